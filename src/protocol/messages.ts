// Typed messages between the UI (main thread) and the engine worker. Types only, no runtime logic.
//
// Every request has a `kind` and an `id` chosen by the sender. Every request gets exactly one final
// reply with the same id: a `result` or an `error`; any number of `progress` replies may come first.
// A request of unknown kind gets an `error` reply (never silence). comlink carries the messages:
// the worker exposes an `EngineApi`, the UI calls `handle(request, proxy(onProgress))`.

import type { AdapterSummary, Gpu } from '../gpu/device.ts';
import type { KernelTuning } from '../gpu/tuning.ts';
import type { ModelInfo } from '../model/info.ts';
import type { WeightPrecision } from '../model/weights.ts';
import type { DatasetFormat } from '../data/types.ts';
import type { DatasetStats, PreviewSegment } from '../data/prepare.ts';
import type { MaskMode } from '../data/tokenize.ts';
import type { AdapterSummary as StoredAdapterSummary } from '../storage/types.ts';
import type { HubProgress } from '../formats/hub-files.ts';
import type { BenchReport, ScenarioName } from '../bench/report.ts';
import type { HubEntry } from '../formats/hub-tree.ts';
import type { HubGguf } from '../formats/hub-gguf.ts';
import type { ModelPlan } from '../train/model-plan.ts';

// ---- shared shapes ---------------------------------------------------------------------------------

/** The WebGPU adapter as `GPUAdapterInfo` names it (copied out: its fields are getters). */
export type AdapterInfo = AdapterSummary;

/** The device limits the engine plans with (bytes or counts, as WebGPU reports them). */
export type GpuLimitsInfo = Gpu['limits'];

// ---- requests --------------------------------------------------------------------------------------

/** Open the GPU in the worker. Repeating it returns the device already open. */
export interface InitRequest {
  kind: 'init';
  id: number;
  /** Use `shader-f16` when the adapter offers it (default true). */
  allowF16?: boolean;
}

/** Where a base model comes from. */
export type ModelSource =
  /** A folder served by the app itself (the bundled demo model). */
  | { kind: 'url'; baseUrl: string; name: string }
  /**
   * A Hugging Face repo id, fetched through {hubBase}/{repo}/resolve/{revision}/{file}. `gguf`: the
   * path of one GGUF file in the repo to load (its tokenizer from the repo's tokenizer.json, if any).
   */
  | { kind: 'hub'; repo: string; revision?: string; hubBase?: string; gguf?: string }
  /** Files the user dropped in: config.json, tokenizer files, safetensors (+ index); or one .gguf (and a tokenizer.json). */
  | { kind: 'files'; files: File[] };

/** Load a base model onto the GPU, replacing the one loaded before. */
export interface LoadModelRequest {
  kind: 'loadModel';
  id: number;
  source: ModelSource;
  /** Frozen weights on the GPU: as stored (default 'auto': a GGUF's block types, else 16-bit), or converted on load. */
  precision?: WeightPrecision;
}

/**
 * Cancel a request in flight (a model load or download). The target ends with an error reply named
 * "AbortError"; a cancelled load keeps the model loaded before it.
 */
export interface CancelRequest {
  kind: 'cancel';
  id: number;
  /** The id of the request to cancel. */
  targetId: number;
}

/** Continue a prompt with the loaded model (KV cache; greedy at temperature 0). */
export interface GenerateRequest {
  kind: 'generate';
  id: number;
  prompt: string;
  /** Use the adapter in use, if any: trained in this session or chosen by `useAdapter` (default true); false = the base model. */
  useAdapter?: boolean;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /**
   * Chat mode: the prompt is sent as one user message through the model's chat template, with the
   * generation prompt added (ChatML when the model has none; a progress message says so).
   */
  chat?: boolean;
}

/** Mean cross-entropy of the loaded model over token rows (transformers' convention). */
export interface EvaluateRequest {
  kind: 'evaluate';
  id: number;
  rows: { inputIds: number[]; labels?: number[] }[];
  batchSize?: number;
}

/** A dataset file: one the app serves (the samples), or one the user dropped in. */
export type DatasetSource = { kind: 'url'; url: string; name: string } | { kind: 'file'; file: File };

export interface TrainSettings {
  rank: number;
  alpha: number;
  dropout: number;
  /** Scaling alpha/sqrt(r) instead of alpha/r (rsLoRA). */
  rslora: boolean;
  targets: string[];
  lr: number;
  schedule: 'constant' | 'linear' | 'cosine';
  /** Warmup steps (linear from 0). */
  warmup: number;
  /** Optimizer steps; 0 = `epochs` passes over the training rows. */
  steps: number;
  epochs: number;
  batchSize: number;
  gradAccum: number;
  seqLen: number;
  /** Fraction of the rows held out for validation. */
  valSplit: number;
  evalEvery: number;
  seed: number;
  /** How rows are read: 'auto' detects from the file. */
  format: DatasetFormat | 'auto';
  /** 'prompt': loss only on completions / assistant turns; 'last-turn': the last assistant turn; 'none': every token. */
  mask: MaskMode;
  /** Concatenate whole examples into rows of seqLen tokens. */
  packing: boolean;
}

/** Train a LoRA adapter on the loaded model; progress replies carry `metrics`. */
export interface TrainRequest {
  kind: 'train';
  id: number;
  dataset: DatasetSource;
  settings: TrainSettings;
}

/**
 * Continue a saved run from its last checkpoint (after Pause, a reload, or a lost GPU), with the
 * run's own dataset and settings. Progress and result as for `train`.
 */
export interface ResumeTrainingRequest {
  kind: 'resumeTraining';
  id: number;
  runId: string;
}

/**
 * Pause (checkpoint, resumable) or stop (checkpoint, the adapter is saved, the run ends) the run in
 * progress after its current step. The `train` request then ends with its result.
 */
export interface ControlTrainingRequest {
  kind: 'controlTraining';
  id: number;
  action: 'pause' | 'stop';
}

/** Apply a saved adapter (the library's id) in the playground and exports; null: none. */
export interface UseAdapterRequest {
  kind: 'useAdapter';
  id: number;
  adapterId: string | null;
}

/** Save a PEFT adapter (the folder's files, or one zip) in the library, checked against the loaded model. */
export interface ImportAdapterRequest {
  kind: 'importAdapter';
  id: number;
  files: File[];
}

/**
 * What `train` would make of a dataset with these settings, without training: the same reading and
 * preparing (tokenizer, template, masking, truncation, packing, split), so it needs a loaded model.
 */
export interface InspectDatasetRequest {
  kind: 'inspectDataset';
  id: number;
  dataset: DatasetSource;
  settings: TrainSettings;
}

/** The adapter trained in this session as a file to download. */
export interface ExportAdapterRequest {
  kind: 'exportAdapter';
  id: number;
  /** peft: a zip of the PEFT folder; gguf: a GGUF LoRA for llama.cpp. */
  format: 'peft' | 'gguf';
}

/**
 * The base model with the trained adapter merged in, as a Hugging Face folder, streamed tensor by
 * tensor: into a folder the user picked (File System Access API), or else into a zip.
 */
export interface ExportMergedRequest {
  kind: 'exportMerged';
  id: number;
  /** directory: the folder the user picked, the model goes into a new folder inside it. */
  target: { kind: 'directory'; handle: FileSystemDirectoryHandle } | { kind: 'zip' };
  /** Output dtype of the weights (default: the base checkpoint's). For 'gguf': the merged tensors' type. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** hf (default): a Hugging Face folder; gguf: one GGUF file, from a GGUF base (untouched tensors kept as they are). */
  format?: 'hf' | 'gguf';
}

/**
 * `tabtune bench` on the worker's GPU: the same scenarios and the same report object as the CLI's
 * --json, so a user can paste it into an issue. Progress replies carry the CLI's progress lines.
 * Refused while a run is training; it builds its own model and leaves the loaded one as it was.
 */
export interface BenchRequest {
  kind: 'bench';
  id: number;
  /** matmul, train, decode (default all three). */
  scenarios?: ScenarioName[];
  /** The CLI's --quick sizes: seconds instead of minutes. */
  quick?: boolean;
}

/** A hub repo's files with their sizes, listed (the hub's tree API) before anything is downloaded. */
export interface ListHubFilesRequest {
  kind: 'listHubFiles';
  id: number;
  repo: string;
  revision?: string;
  hubBase?: string;
}

/**
 * The GPU memory a training run on a hub model would need, before it is downloaded: from its
 * config.json, or the picked GGUF's header read by HTTP range. Needs no GPU and no loaded model.
 */
export interface PlanModelRequest {
  kind: 'planModel';
  id: number;
  source: Extract<ModelSource, { kind: 'hub' }>;
  /** As for loadModel (default 'auto'). */
  precision?: WeightPrecision;
  settings: TrainSettings;
  /** Bytes the device may use (the app's budget); null: fits is not judged. */
  budget: number | null;
}

/**
 * Everything the worker understands. The engine's requests (load a model, train, generate, export)
 * are added here, each with its result type in `ResultOf` below and a case in worker/handler.ts.
 */
export type Request = InitRequest | LoadModelRequest | GenerateRequest | EvaluateRequest | TrainRequest | InspectDatasetRequest | ExportAdapterRequest | ExportMergedRequest
  | ResumeTrainingRequest | ControlTrainingRequest | UseAdapterRequest | ImportAdapterRequest | CancelRequest | BenchRequest
  | ListHubFilesRequest | PlanModelRequest;

export type RequestKind = Request['kind'];

// ---- results ---------------------------------------------------------------------------------------

export interface InitResult {
  adapter: AdapterInfo;
  /** `shader-f16` is enabled on the device. */
  f16: boolean;
  limits: GpuLimitsInfo;
  /** The kernels' work layouts on this device, and whether the matmul ones were measured (see src/gpu/tuning.ts). */
  tuning: KernelTuning;
  /** For the log: whether those layouts were timed now, kept from an earlier visit, or left at the defaults (and why). */
  tuningNote: string;
}

/** A loaded model's facts for people. */
export type ModelInfoResult = ModelInfo;

export interface GenerateResult {
  /** New text, special tokens left out. */
  text: string;
  /** New token ids (an ending EOS included). */
  tokens: number[];
  promptTokens: number[];
  tokensPerSecond: number;
}

export interface EvaluateResult {
  loss: number;
  tokens: number;
}

export interface TrainResult {
  runId: string;
  /** finished: all steps ran; paused: resumable from its checkpoint; stopped: ended early by the user. */
  status: 'finished' | 'paused' | 'stopped';
  /** The adapter saved in the library (finished or stopped runs). */
  adapterId: string | null;
  /** The runs are not saved (no IndexedDB here, or it failed): why. */
  storageProblem: string | null;
  steps: number;
  trainableParameters: number;
  /** Validation loss of the base model (before training) and of the best step. */
  valLossBefore: number | null;
  valLossAfter: number | null;
  losses: number[];
  /** Highest GPU memory held during the run (the model included), and the plan it is bounded by. */
  peakBytes: number;
  planBytes: number;
  elapsedMs: number;
  trainRows: number;
  valRows: number;
}

/** A bad row as the user should fix it: the 1-based line of the file, and what is wrong. */
export interface BadRow {
  line: number;
  message: string;
}

export interface InspectDatasetResult {
  /** The file name. */
  name: string;
  /** The format read: the one detected when the settings say 'auto'. */
  format: DatasetFormat;
  /** Valid examples read (bad rows not counted). */
  examples: number;
  stats: DatasetStats;
  /** Rows after packing, split as training will split them. */
  trainRows: number;
  valRows: number;
  /** The first 50 bad rows, in file order (a broken file stays a small reply); `skippedTotal` counts them all. */
  skipped: BadRow[];
  skippedTotal: number;
  warnings: string[];
  /** The first rows (up to 5), as runs of trained and masked text. */
  preview: PreviewRow[];
}

export interface PreviewRow {
  /** Where the row came from, e.g. "data.jsonl line 3" or a packed range. */
  source: string;
  tokens: number;
  segments: PreviewSegment[];
}

export interface ExportAdapterResult {
  fileName: string;
  mimeType: string;
  bytes: Uint8Array;
}

export interface ExportMergedResult {
  /** The folder (or zip) name: model, rank and date. */
  name: string;
  /** Paths written, folder first. */
  files: string[];
  bytes: number;
  /** The zip, for target 'zip' (a Blob the browser may keep on disk); a merged GGUF is this one file, not zipped. */
  zip?: Blob;
}

/** A hub repo's files, and its GGUF files as a user picks between them. */
export interface HubFileList {
  repo: string;
  files: HubEntry[];
  /** The .gguf files, by path, each with the quant type its name carries. */
  ggufs: HubGguf[];
  /** The repo is a Hugging Face model folder (config.json and safetensors weights). */
  hasSafetensors: boolean;
}

/** What a hub model would need on the GPU to train with the given settings. */
export interface PlanModelResult {
  /** Terms in bytes, as `tabtune plan --json`; `weightDtypes` counts matrices per GPU dtype. */
  plan: ModelPlan;
  /** What was read: config.json (weights assumed in its torch_dtype), or the GGUF's header. */
  from: 'config.json' | 'gguf header';
  architecture: string;
  parameters: number;
  layers: number;
  /** A GGUF's stored matrix types ({ Q4_K: 154, Q6_K: 29 }) and the type it was made as; null for config.json. */
  storedTypes: Record<string, number> | null;
  fileType: string | null;
  /** Bytes fetched to make the plan (the header's, for a GGUF). */
  bytesRead: number;
}

/** The object `tabtune bench --json` prints (src/bench/report.ts, documented in README.md). */
export type BenchResult = BenchReport;

/** A saved adapter as the library lists it (everything but its files). */
export type SavedAdapter = StoredAdapterSummary;

/** The `value` of a result reply, per request kind. */
export interface ResultOf {
  /** false: no such request was in flight (it had already ended). */
  cancel: { cancelled: boolean };
  resumeTraining: TrainResult;
  controlTraining: { accepted: boolean };
  useAdapter: SavedAdapter | null;
  importAdapter: SavedAdapter;
  exportAdapter: ExportAdapterResult;
  exportMerged: ExportMergedResult;
  train: TrainResult;
  inspectDataset: InspectDatasetResult;
  init: InitResult;
  loadModel: ModelInfoResult;
  generate: GenerateResult;
  evaluate: EvaluateResult;
  bench: BenchResult;
  listHubFiles: HubFileList;
  planModel: PlanModelResult;
}

// ---- replies ---------------------------------------------------------------------------------------

export interface ResultReply<K extends RequestKind = RequestKind> {
  type: 'result';
  id: number;
  kind: K;
  value: ResultOf[K];
}

export interface ErrorReply {
  type: 'error';
  /** The request's id; -1 when the request was too malformed to carry one. */
  id: number;
  /** The request's kind as received (may be one the worker does not know). */
  kind: string;
  /** The error class, e.g. "WebGpuUnavailableError", so the UI can tell "no WebGPU" from a bug. */
  name: string;
  /** A message a user can act on. */
  message: string;
}

export interface ProgressReply {
  type: 'progress';
  id: number;
  kind: RequestKind;
  /** What is happening now, for the log. */
  message: string;
  /** 0..1 when the work has a known size. */
  fraction?: number;
  /** Training: the step just finished, or a validation result. */
  metrics?: TrainMetrics;
  /** Generation: the new text so far, special tokens left out; the last one equals the result's text. */
  partialText?: string;
  /** Loading a hub model: the file being downloaded (or read from the browser's model cache). */
  download?: DownloadProgress;
}

/** One model file's download: bytes so far and promised (null: unknown), speed over the last seconds. */
export type DownloadProgress = HubProgress;

export interface TrainMetrics {
  /** The run these metrics belong to (sent with step 0). */
  runId?: string;
  step: number;
  totalSteps: number;
  loss?: number;
  valLoss?: number;
  lr?: number;
  tokensPerSecond?: number;
  /** Passes over the training rows so far (fractional). */
  epoch?: number;
  elapsedMs?: number;
  etaMs?: number;
  peakBytes?: number;
  /** A greedy continuation of a fixed prompt with the adapter as it is at `step`. */
  sample?: { prompt: string; text: string };
}

export type FinalReply = ResultReply | ErrorReply;
export type Reply = FinalReply | ProgressReply;

/** Receives progress replies; passed through comlink as `proxy(fn)`. */
export type ProgressSink = (p: ProgressReply) => void;

/** What the worker exposes. `handle` never rejects: failures are error replies. */
export interface EngineApi {
  handle(request: Request, onProgress?: ProgressSink): Promise<FinalReply>;
}
