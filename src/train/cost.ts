// What a run will cost, LoRA against full fine-tuning, before anything touches the GPU: trainable
// parameters, GPU memory by kind, and the size of the file the run leaves behind. The memory figures
// come from planTrainingMemory (the plan the CLI checks before allocating), only split up for people,
// so the app and the engine share one memory model.
// Dimension key: R = B*T rows, H = hidden, I = intermediate, nH/nKV = heads, D = head dim, V = vocab,
// r = LoRA rank, in/out = a linear layer's features.

import { safetensorsHeader, type TensorEntry } from '../formats/safetensors-write.ts';
import { DEFAULT_LORA, type LoraConfig, adaptedModules, trainableParameterCount } from '../lora/config.ts';
import type { ModelConfig } from '../model/config.ts';
import { LINEAR_MODULES, type LinearModule, linearShape, modelParams } from '../model/params.ts';
import { planTrainingMemory } from './memory-plan.ts';

/** The settings that change the cost; the app's TrainSettings fits as is. */
export interface CostSettings {
  rank: number;
  dropout: number;
  targets: readonly string[];
  /** Sequences per micro-batch (gradient accumulation reuses the same buffers). */
  batchSize: number;
  seqLen: number;
}

export interface CostOptions {
  /** Bytes per element of the frozen matrices: 2 for f16 / bf16, 4 for f32. */
  weightBytesPerElement: number;
  /** Exact bytes of the frozen weights once loaded (ModelInfo.weightBytes); default params * weightBytesPerElement. */
  weightBytes?: number;
  /** Positions the model reads: longer rows are cut, as the worker cuts them. */
  maxPositions?: number;
  /** Default 'on', as the trainer's default (DEFAULT_TRAIN.checkpointing). */
  checkpointing?: 'auto' | 'on' | 'off';
}

/** One way of training, in bytes unless named otherwise. */
export interface CostColumn {
  trainableParameters: number;
  /** LoRA: the frozen base plus the f32 adapter; full: the f32 master weights. */
  weights: number;
  gradients: number;
  /** AdamW's first and second moments (m and v), f32. */
  optimizer: number;
  activations: number;
  total: number;
  /** LoRA: adapter_model.safetensors (PEFT, f32); full: model.safetensors (f32, as the engine saves it). */
  fileBytes: number;
  /** The largest single GPU buffer the step allocates; it must fit one storage binding. */
  largestBuffer: number;
  checkpointing: boolean;
}

export interface CostEstimate {
  lora: CostColumn;
  full: CostColumn;
  /** Sequence length the estimate used, after the cut to maxPositions. */
  seqLen: number;
  /** Target modules that count (unknown names are left out, as the form offers only real ones). */
  targets: LinearModule[];
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The LoRA config the worker builds from the app's settings (session.ts). */
export function loraConfigOf(s: Pick<CostSettings, 'rank' | 'dropout' | 'targets'>): LoraConfig {
  const targets = LINEAR_MODULES.filter((m) => s.targets.includes(m));
  return { ...DEFAULT_LORA, rank: Math.max(1, Math.floor(s.rank)), dropout: s.dropout, targets };
}

/** Exact size of the PEFT adapter_model.safetensors that peftAdapterFiles writes in f32. */
export function adapterFileBytes(cfg: ModelConfig, lc: LoraConfig): number {
  const entries: TensorEntry[] = [];
  for (const [name, m] of adaptedModules(cfg, lc)) {
    const [out, inp] = linearShape(cfg, m);
    entries.push({ name: `base_model.model.${name}.lora_A.weight`, dtype: 'F32', shape: [lc.rank, inp] });
    entries.push({ name: `base_model.model.${name}.lora_B.weight`, dtype: 'F32', shape: [out, lc.rank] });
  }
  return fileBytes(entries);
}

/** Exact size of the model.safetensors a full fine-tuning run saves (every tensor in f32). */
export function fullCheckpointBytes(cfg: ModelConfig): number {
  return fileBytes(modelParams(cfg).map((p) => ({ name: p.name, dtype: 'F32' as const, shape: p.shape })));
}

function fileBytes(entries: TensorEntry[]): number {
  // Zero-size tensors would still be listed; an empty adapter is no file at all.
  if (entries.length === 0) return 0;
  return safetensorsHeader(entries).byteLength + entries.reduce((s, e) => s + numel(e.shape) * 4, 0);
}

/** Widest activation row the step holds in one buffer ([R, I] for the MLP, usually). */
function widestRow(cfg: ModelConfig): number {
  return Math.max(cfg.hiddenSize, cfg.intermediateSize, cfg.numHeads * cfg.headDim, cfg.numKvHeads * cfg.headDim);
}

export function estimateTrainingCost(cfg: ModelConfig, s: CostSettings, o: CostOptions): CostEstimate {
  const T = Math.max(1, Math.min(s.seqLen, o.maxPositions ?? Infinity));
  const B = Math.max(1, s.batchSize);
  const R = B * T;
  const checkpointing = o.checkpointing ?? 'on';
  const params = modelParams(cfg);
  const paramCount = params.reduce((n, p) => n + numel(p.shape), 0);
  const frozenBytes = o.weightBytes ?? paramCount * o.weightBytesPerElement;
  const lc = loraConfigOf(s);

  // plan.trainable is param + grad + m + v, all f32: a quarter each is one f32 copy (rank padding included).
  const lp = planTrainingMemory(cfg, { weightBytes: frozenBytes, lora: lc, B, T, checkpointing });
  const loraCopy = lp.trainable / 4;
  const row = R * widestRow(cfg) * 4;
  const lora: CostColumn = {
    trainableParameters: trainableParameterCount(cfg, lc),
    weights: lp.weights + loraCopy,
    gradients: loraCopy,
    optimizer: 2 * loraCopy,
    activations: lp.activations,
    total: lp.total,
    fileBytes: adapterFileBytes(cfg, lc),
    largestBuffer: row,
    checkpointing: lp.checkpointing,
  };

  const fp = planTrainingMemory(cfg, { weightBytes: frozenBytes, lora: null, B, T, checkpointing });
  const fullCopy = fp.trainable / 4;
  const full: CostColumn = {
    trainableParameters: paramCount,
    // Full fine-tuning trains the weights in place: the f32 copy is the weights.
    weights: fp.weights + fullCopy,
    gradients: fullCopy,
    optimizer: 2 * fullCopy,
    activations: fp.activations,
    total: fp.total,
    fileBytes: fullCheckpointBytes(cfg),
    // Every parameter tensor is one f32 buffer (the embedding [V, H] is the largest).
    largestBuffer: Math.max(row, ...params.map((p) => numel(p.shape) * 4)),
    checkpointing: fp.checkpointing,
  };
  return { lora, full, seqLen: T, targets: lc.targets };
}

/** What a column is compared against: WebGPU reports no total GPU memory, so the total meets a stated budget. */
export interface MemoryLimits {
  /** min(maxStorageBufferBindingSize, maxBufferSize): a buffer the shaders bind whole must fit it. */
  bufferBytes: number;
  /** The memory the user expects the GPU to give this tab. */
  budgetBytes: number;
}

export interface FitCheck {
  fits: boolean;
  bufferFits: boolean;
  totalFits: boolean;
}

export function checkFit(c: CostColumn, lim: MemoryLimits): FitCheck {
  const bufferFits = c.largestBuffer <= lim.bufferBytes;
  const totalFits = c.total <= lim.budgetBytes;
  return { fits: bufferFits && totalFits, bufferFits, totalFits };
}

/**
 * The largest batch size (or sequence length) at which the LoRA run fits, the other settings kept;
 * 0 when even 1 does not fit. Memory grows with both, so a binary search finds it.
 */
export function largestFitting(cfg: ModelConfig, s: CostSettings, o: CostOptions, lim: MemoryLimits, key: 'batchSize' | 'seqLen'): number {
  const fits = (v: number) => checkFit(estimateTrainingCost(cfg, { ...s, [key]: v }, o).lora, lim).fits;
  const cap = key === 'seqLen' ? Math.min(s.seqLen, o.maxPositions ?? Infinity) : s.batchSize;
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = Math.max(1, cap);
  if (fits(hi)) return hi;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
