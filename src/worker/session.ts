// The engine behind the worker's requests: one loaded model on one GPU. It knows nothing of the
// protocol's transport; the handler turns its results and errors into replies.

import type { ModelFiles } from '../formats/byte-source.ts';
import { droppedFiles } from '../formats/browser-files.ts';
import { hubFiles } from '../formats/hub-files.ts';
import { urlFiles } from '../formats/url-files.ts';
import type { Gpu } from '../gpu/device.ts';
import { evaluate, type TokenRow } from '../model/evaluate.ts';
import { generateTokens } from '../model/generate.ts';
import { modelInfo } from '../model/info.ts';
import { destroyModel, type LoadedModel, loadModel } from '../model/model.ts';
import type {
  EvaluateRequest,
  EvaluateResult,
  GenerateRequest,
  GenerateResult,
  DatasetSource,
  ExportAdapterRequest,
  ExportAdapterResult,
  ExportMergedRequest,
  ExportMergedResult,
  InspectDatasetRequest,
  InspectDatasetResult,
  LoadModelRequest,
  ModelInfoResult,
  ModelSource,
  TrainMetrics,
  TrainRequest,
  TrainResult,
  TrainSettings,
} from '../protocol/messages.ts';
import { fileChunks } from '../data/browser-read.ts';
import { loadChatTemplate } from '../data/chat-template.ts';
import { type Prepared, prepareDataset, previewRow, splitValidation } from '../data/prepare.ts';
import { readDataset, type ReadResult } from '../data/read.ts';
import { FormatError } from '../formats/errors.ts';
import { DEFAULT_LORA, initLora, type LoraConfig, parseTargets } from '../lora/config.ts';
import { destroyLora } from '../lora/gpu-lora.ts';
import { loraTrainable, readLoraWeights, releaseTrainable, type Trainable } from '../train/trainable.ts';
import { zipSync } from 'fflate';
import { loraToGguf } from '../formats/gguf-lora.ts';
import { peftAdapterFiles } from '../formats/peft-write.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import { mergedModelFiles } from '../formats/merge.ts';
import { writeToDirectory, zipToBlob } from './merged-export.ts';
import { DEFAULT_TRAIN, totalSteps, train, type TrainOptions } from '../train/trainer.ts';

type Progress = (message: string, fraction?: number, metrics?: TrainMetrics) => void;

function filesOf(source: ModelSource, progress: Progress): ModelFiles {
  switch (source.kind) {
    case 'url':
      return urlFiles(source.baseUrl, source.name);
    case 'files':
      return droppedFiles(source.files);
    case 'hub':
      return hubFiles({
        repo: source.repo,
        revision: source.revision,
        hubBase: source.hubBase,
        onProgress: ({ file, loaded, total }) =>
          progress(`downloading ${file}: ${(loaded / 2 ** 20).toFixed(1)}${total ? ` / ${(total / 2 ** 20).toFixed(1)}` : ''} MiB`, total ? loaded / total : undefined),
      });
  }
}

export class NoModelError extends Error {
  constructor() {
    super('No model is loaded yet: load a base model first.');
    this.name = 'NoModelError';
  }
}

/** The bytes of a dataset as they arrive, from the app's server or a dropped file. */
async function* datasetChunks(source: DatasetSource): AsyncIterable<Uint8Array> {
  if (source.kind === 'file') {
    yield* fileChunks(source.file);
    return;
  }
  const res = await fetch(source.url);
  if (!res.ok || !res.body) throw new FormatError(source.url, `could not be fetched (HTTP ${res.status})`);
  const reader = res.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

/** A dataset as training takes it; `train` and `inspectDataset` both get theirs from `prepareData`. */
interface PreparedData {
  name: string;
  read: ReadResult;
  prepared: Prepared;
  /** The settings' seqLen, capped at the model's context. */
  seqLen: number;
  train: TokenRow[];
  val: TokenRow[];
}

/** Bad rows an inspection lists; the rest are only counted, so a broken file stays a small reply. */
const INSPECT_SKIPPED_SHOWN = 50;
/** Rows an inspection previews. */
const INSPECT_PREVIEW_ROWS = 5;

/** The repo id or folder name of the base model, as PEFT's base_model_name_or_path wants it. */
function baseModelId(model: LoadedModel): string {
  return model.name.replace(/ \(bundled\)$/, '');
}

/** A download name that says model, what it is (with the rank) and the date: kjv-llama-lora-r8-2026-11-29. */
function exportName(base: string, what: string): string {
  const model = base.split('/').pop()!.replace(/[^\w.-]+/g, '_');
  return `${model}-${what}-${new Date().toISOString().slice(0, 10)}`;
}

export class NoAdapterError extends Error {
  constructor() {
    super('No adapter has been trained yet: train one first.');
    this.name = 'NoAdapterError';
  }
}

export class EngineSession {
  private model: LoadedModel | null = null;
  private files: ModelFiles | null = null;
  /** The adapter trained in this session, applied when generating unless asked not to. */
  private adapter: Trainable | null = null;
  private adapterConfig: { lc: LoraConfig; shapes: LoraWeights } | null = null;

  constructor(private readonly gpu: Gpu) {}

  async loadModel(req: LoadModelRequest, progress: Progress): Promise<ModelInfoResult> {
    const files = filesOf(req.source, progress);
    progress(`loading ${files.name}`);
    const next = await loadModel(this.gpu, files, {
      precision: req.precision,
      onProgress: (stage, done, total) => progress(`${stage}: ${Math.round((100 * done) / total)}%`, done / total),
    });
    // The old model stays usable until the new one has loaded.
    this.dropAdapter();
    if (this.model) destroyModel(this.model);
    this.model = next;
    this.files = files;
    return modelInfo(next);
  }

  async generate(req: GenerateRequest, progress: Progress): Promise<GenerateResult> {
    const model = this.need();
    model.lora = req.useAdapter === false ? null : (this.adapter?.lora ?? null);
    const promptTokens = model.tokenizer.encode(req.prompt);
    const start = performance.now();
    const tokens = await generateTokens(model, promptTokens, {
      maxNewTokens: req.maxNewTokens,
      temperature: req.temperature,
      topP: req.topP,
      seed: req.seed,
      onToken: () => progress(`generating: ${Math.round(performance.now() - start)} ms`),
    });
    const seconds = (performance.now() - start) / 1000;
    return {
      text: model.tokenizer.decode(tokens, { skipSpecialTokens: true }),
      tokens,
      promptTokens,
      tokensPerSecond: tokens.length / Math.max(seconds, 1e-9),
    };
  }

  evaluate(req: EvaluateRequest): Promise<EvaluateResult> {
    return evaluate(this.need(), req.rows, { batchSize: req.batchSize });
  }

  async train(req: TrainRequest, progress: Progress): Promise<TrainResult> {
    const model = this.need();
    const s = req.settings;
    const { prepared, seqLen, train: rows, val } = await this.prepareData(req.dataset, s, progress);
    for (const w of prepared.warnings) progress(`warning: ${w}`);
    const lc: LoraConfig = { ...DEFAULT_LORA, rank: s.rank, alpha: s.alpha, dropout: s.dropout, rslora: s.rslora, targets: parseTargets(s.targets) };
    this.dropAdapter();
    model.lora = null;
    const opts: TrainOptions = {
      ...DEFAULT_TRAIN, lr: s.lr, schedule: s.schedule, warmup: s.warmup, steps: s.steps > 0 ? s.steps : undefined, epochs: s.epochs,
      batchSize: s.batchSize, gradAccum: s.gradAccum, seqLen, seed: s.seed, dropout: s.dropout, evalEvery: s.evalEvery,
    };
    const total = totalSteps(rows.length, opts);
    const valLossBefore = val.length ? (await evaluate(model, val, { seqLen, batchSize: s.batchSize })).loss : null;
    if (valLossBefore !== null) progress(`validation loss before training ${valLossBefore.toFixed(4)}`, 0, { step: 0, totalSteps: total, valLoss: valLossBefore });
    const shapes = initLora(model.cfg, lc, s.seed);
    const trainable = loraTrainable(model.gpu, shapes);
    this.adapter = trainable;
    this.adapterConfig = { lc, shapes };
    const result = await train(model, trainable, rows, val.length ? val : null, opts, {
      onStep: (r) => progress(`step ${r.step}/${r.totalSteps}: loss ${r.loss.toFixed(4)}`, r.step / r.totalSteps, {
        step: r.step, totalSteps: r.totalSteps, loss: r.loss, lr: r.lr, tokensPerSecond: r.tokensPerSecond, etaMs: r.etaMs, peakBytes: r.peakBytes,
      }),
      onEval: (r) => progress(`validation loss ${r.valLoss.toFixed(4)} at step ${r.step}`, undefined, { step: r.step, totalSteps: total, valLoss: r.valLoss }),
    });
    return {
      steps: result.steps, trainableParameters: trainable.count, valLossBefore, valLossAfter: result.bestValLoss,
      losses: result.losses, peakBytes: result.peakBytes, elapsedMs: result.elapsedMs, trainRows: rows.length, valRows: val.length,
    };
  }

  /** What `train` would do with this dataset and these settings: statistics, bad rows, a preview. */
  async inspectDataset(req: InspectDatasetRequest, progress: Progress): Promise<InspectDatasetResult> {
    const model = this.need();
    const { name, read, prepared, train: rows, val } = await this.prepareData(req.dataset, req.settings, progress);
    // Both lists are in file order on their own; the user fixes the file top to bottom.
    const skipped = [...read.skipped, ...prepared.skipped].sort((a, b) => a.line - b.line);
    // prepare's warnings count only its own skips; rows the reader passed over are dropped by training too.
    const warnings = read.skipped.length > 0
      ? [...prepared.warnings, `${read.skipped.length} bad row${read.skipped.length === 1 ? ' is' : 's are'} skipped: training leaves ${read.skipped.length === 1 ? 'it' : 'them'} out.`]
      : prepared.warnings;
    return {
      name,
      format: read.format,
      examples: read.examples.length,
      stats: prepared.stats,
      trainRows: rows.length,
      valRows: val.length,
      skipped: skipped.slice(0, INSPECT_SKIPPED_SHOWN).map(({ line, message }) => ({ line, message })),
      skippedTotal: skipped.length,
      warnings,
      preview: prepared.rows.slice(0, INSPECT_PREVIEW_ROWS).map((row) => ({
        source: row.source ?? '',
        tokens: row.inputIds.length,
        segments: previewRow(row, model.tokenizer),
      })),
    };
  }

  /** The trained adapter as a PEFT zip or a GGUF LoRA, read back from the GPU. */
  async exportAdapter(req: ExportAdapterRequest): Promise<ExportAdapterResult> {
    const { model, lc, weights } = await this.trainedAdapter();
    const base = baseModelId(model);
    const name = exportName(base, `lora-r${lc.rank}`);
    if (req.format === 'gguf') {
      return { fileName: `${name}.gguf`, mimeType: 'application/octet-stream', bytes: loraToGguf(model.cfg, lc, weights) };
    }
    const files = peftAdapterFiles(lc, weights, base);
    return { fileName: `${name}.zip`, mimeType: 'application/zip', bytes: zipSync(Object.fromEntries(files), { level: 0 }) };
  }

  /** The base model with the adapter merged in, streamed one tensor at a time to a folder or a zip. */
  async exportMerged(req: ExportMergedRequest, progress: Progress): Promise<ExportMergedResult> {
    const { model, lc, weights } = await this.trainedAdapter();
    const name = exportName(baseModelId(model), `merged-r${lc.rank}`);
    if (req.target.kind === 'zip') {
      // Zips past 4 GB need ZIP64, which the zip writer lacks; a picked folder has no such limit.
      const bytes = modelInfo(model).parameters * (req.dtype === 'F32' ? 4 : 2);
      if (bytes > 4e9) throw new FormatError(name, `would be about ${(bytes / 1e9).toFixed(1)} GB, too large for a zip; use a browser that can save to a folder (Chrome or Edge) or the tabtune merge command`);
    }
    const files = mergedModelFiles(model.gpu, this.files!, weights, {
      dtype: req.dtype,
      onProgress: (done, total) => progress(`merging: ${Math.round((100 * done) / Math.max(1, total))}%`, done / Math.max(1, total)),
    });
    if (req.target.kind === 'directory') return { name, ...(await writeToDirectory(req.target.handle, name, files)) };
    return { name: `${name}.zip`, ...(await zipToBlob(name, files)) };
  }

  private async trainedAdapter(): Promise<{ model: LoadedModel; lc: LoraConfig; weights: LoraWeights }> {
    const model = this.need();
    if (!this.adapter || !this.adapterConfig) throw new NoAdapterError();
    const { lc, shapes } = this.adapterConfig;
    return { model, lc, weights: await readLoraWeights(model.gpu, this.adapter, shapes) };
  }

  dispose(): void {
    this.dropAdapter();
    if (this.model) destroyModel(this.model);
    this.model = null;
  }

  private dropAdapter(): void {
    if (this.adapter && this.model) {
      if (this.model.lora === this.adapter.lora) this.model.lora = null;
      destroyLora(this.model.gpu, this.adapter.lora!);
      releaseTrainable(this.model.gpu, this.adapter);
    }
    this.adapter = null;
    this.adapterConfig = null;
  }

  /**
   * Reads, tokenizes, masks, truncates or packs, and splits a dataset. The one path from a file to
   * training rows, so what an inspection shows is what training gets.
   */
  private async prepareData(dataset: DatasetSource, s: TrainSettings, progress: Progress): Promise<PreparedData> {
    const model = this.need();
    const name = dataset.kind === 'url' ? dataset.name : dataset.file.name;
    progress(`reading ${name}`);
    const read = await readDataset(name, datasetChunks(dataset), { onBadRow: 'skip', format: s.format });
    const template = await loadChatTemplate(this.files!);
    const seqLen = Math.min(s.seqLen, model.maxPositions);
    const prepared = prepareDataset(read.examples, { tokenizer: model.tokenizer, template, mask: s.mask, seqLen, packing: s.packing, vocabSize: model.cfg.vocabSize });
    const { train, val } = s.valSplit > 0 ? splitValidation(prepared.rows, s.valSplit, s.seed) : { train: prepared.rows, val: [] };
    return { name, read, prepared, seqLen, train, val };
  }

  private need(): LoadedModel {
    if (!this.model) throw new NoModelError();
    return this.model;
  }
}
