// The records tabtune keeps in IndexedDB. All are plain data so structured clone stores them as they
// are (typed arrays included) and they cross the worker boundary unchanged.

export type RunStatus = 'running' | 'paused' | 'stopped' | 'finished' | 'failed';

/** One point of a run's chart. Steps repeat when a validation result comes after the step's loss. */
export interface MetricPoint {
  step: number;
  loss?: number;
  valLoss?: number;
  lr?: number;
  tokensPerSecond?: number;
}

/**
 * A training run. `Settings` is left open because storage/ does not depend on the engine; the app
 * stores its TrainSettings there.
 */
export interface RunRecord<Settings = unknown> {
  id: string;
  name: string;
  /** ms since the epoch (Date.now()). */
  createdAt: number;
  updatedAt: number;
  /** Model name or Hugging Face repo id. */
  baseModel: string;
  /** Dataset file name. */
  dataset: string;
  settings: Settings;
  status: RunStatus;
  step: number;
  totalSteps: number;
  /** The chart's history, oldest first; grown with appendMetrics. */
  metrics: MetricPoint[];
  /** The adapter this run produced, once saved. */
  adapterId?: string;
  /** What went wrong, for status 'failed'. */
  error?: string;
}

/** The PEFT folder's two files, as `save_pretrained` writes them. */
export interface AdapterFiles {
  /** adapter_config.json text. */
  configJson: string;
  /** adapter_model.safetensors bytes. */
  safetensors: Uint8Array;
}

export interface AdapterRecord {
  id: string;
  name: string;
  baseModel: string;
  rank: number;
  alpha: number;
  targets: string[];
  createdAt: number;
  runId?: string;
  finalValLoss: number | null;
  bestValLoss: number | null;
  files: AdapterFiles;
}

/** An adapter as listed: everything except the (possibly many-MB) files. */
export type AdapterSummary = Omit<AdapterRecord, 'files'>;

/** The latest checkpoint of a run; saving another for the same run replaces it. */
export interface CheckpointRecord<State = unknown> {
  runId: string;
  step: number;
  savedAt: number;
  /**
   * The engine's training state, stored as-is (Float32Arrays survive structured clone). A typed
   * array that views part of a bigger buffer is stored with that whole buffer, so pass exact ones.
   */
  state: State;
}

/** What navigator.storage.estimate() reports, in bytes. */
export interface StorageUsage {
  usage: number;
  quota: number;
}
