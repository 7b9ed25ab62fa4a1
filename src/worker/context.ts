// What the worker's request modules share: one GPU, the model loaded on it, the adapter in use, the
// run or benchmark holding the GPU, and the app's storage. Each module (model-session, generation,
// training, dataset-input, adapters, exports, bench-request) takes this object; the handler makes one
// per GPU.

import type { ModelFiles } from '../formats/byte-source.ts';
import type { Gpu } from '../gpu/device.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import type { LoraConfig } from '../lora/config.ts';
import { destroyLora, type GpuLora } from '../lora/gpu-lora.ts';
import type { LoadedModel } from '../model/model.ts';
import type { DownloadProgress, SavedAdapter, TrainMetrics } from '../protocol/messages.ts';
import { type AppStorage, openAppStorage } from '../storage/app.ts';
import { releaseTrainable, type Trainable } from '../train/trainable.ts';
import { NoModelError } from './errors.ts';

/** A progress report of the request being handled; the handler turns it into a progress reply. */
export type Progress = (message: string, fraction?: number, metrics?: TrainMetrics, partialText?: string, download?: DownloadProgress) => void;

/** The model on the GPU and the files it came from (its tokenizer, chat template and weights on disk). */
export interface Loaded {
  model: LoadedModel;
  files: ModelFiles;
}

/** The adapter generation and exports use: one being trained (or just trained), or one from the library. */
export interface CurrentAdapter {
  lc: LoraConfig;
  /** Shapes (and, for a library adapter, the weights themselves). */
  shapes: LoraWeights;
  lora: GpuLora;
  trainable: Trainable | null;
  saved: SavedAdapter | null;
}

/** The app's storage, or why there is none (private browsing, no IndexedDB). */
export interface OpenedStorage {
  storage: AppStorage | null;
  problem: string | null;
}

export interface EngineContext {
  readonly gpu: Gpu;
  loaded: Loaded | null;
  /** The adapter trained in this session or chosen from the library, applied when generating unless asked not to. */
  adapter: CurrentAdapter | null;
  /** The run in progress, and what the user asked of it. */
  training: { request: 'pause' | 'stop' | null } | null;
  /** A bench request is running: it and a run would share the GPU, and its figures would mean little. */
  benching: boolean;
  /** Opens the app's storage on first use; later calls share the answer. */
  storage(): Promise<OpenedStorage>;
}

export function createEngineContext(gpu: Gpu): EngineContext {
  let opened: Promise<OpenedStorage> | null = null;
  return {
    gpu,
    loaded: null,
    adapter: null,
    training: null,
    benching: false,
    storage: () => (opened ??= openAppStorage()),
  };
}

/** The loaded model, or a NoModelError for the user. */
export function needModel(ctx: EngineContext): Loaded {
  if (!ctx.loaded) throw new NoModelError();
  return ctx.loaded;
}

/** Frees the adapter in use (its GPU buffers, and its optimizer state if it was being trained). */
export function dropAdapter(ctx: EngineContext): void {
  const c = ctx.adapter;
  const model = ctx.loaded?.model;
  if (c && model) {
    if (model.lora === c.lora) model.lora = null;
    destroyLora(model.gpu, c.lora);
    if (c.trainable) releaseTrainable(model.gpu, c.trainable);
  }
  ctx.adapter = null;
}
