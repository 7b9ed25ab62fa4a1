// A causal LM loaded onto the GPU: config, tokenizer, frozen weights, RoPE tables, optional LoRA.
// Works the same in a browser worker and in Node: it only needs a Gpu and a ModelFiles.
// Dimension key: V = vocab, H = hidden, D = head dim, P = positions in the RoPE table.

import type { ModelFiles } from '../formats/byte-source.ts';
import { openCheckpoint } from '../formats/checkpoint.ts';
import { FormatError } from '../formats/errors.ts';
import { readPeftAdapter } from '../formats/peft.ts';
import type { Gpu } from '../gpu/device.ts';
import { uploadBuffer } from '../gpu/recorder.ts';
import { ropeTable } from '../kernels/rope.ts';
import { destroyMatrix } from '../kernels/weights.ts';
import { destroyLora, type GpuLora, uploadLora } from '../lora/gpu-lora.ts';
import { type ModelConfig, readModelConfig } from './config.ts';
import type { ForwardContext } from './forward.ts';
import { ropeInvFreq } from './rope-freqs.ts';
import { loadTokenizer, type TextTokenizer } from './tokenizer.ts';
import { checkpointConfig, loadWeights, type ModelWeights, planWeights, type WeightPrecision } from './weights.ts';

export interface LoadOptions {
  precision?: WeightPrecision;
  /** Bytes the weights may take on the device; checked before any allocation. */
  memoryBudget?: number;
  /** Longest context the RoPE table is built for (default: the model's maximum, at most 8192). */
  maxPositions?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Called with the weights' size before anything is allocated: throw to refuse the load. */
  beforeAllocate?: (cfg: ModelConfig, weightBytes: number) => void;
}

export interface LoadedModel {
  gpu: Gpu;
  name: string;
  cfg: ModelConfig;
  tokenizer: TextTokenizer;
  weights: ModelWeights;
  /** table: [P, D], the RoPE of every layer but Gemma 3's sliding ones */
  ropeTable: GPUBuffer;
  /** table: [P, D], Gemma 3's sliding layers' RoPE (rope_local_base_freq); null when every layer uses ropeTable */
  localRopeTable: GPUBuffer | null;
  maxPositions: number;
  lora: GpuLora | null;
}

/** The longest context a model is loaded for unless asked: its own maximum, at most 8192. */
export const defaultMaxPositions = (cfg: Pick<ModelConfig, 'maxPositionEmbeddings'>) => Math.min(cfg.maxPositionEmbeddings, 8192);

/** config.json and the tokenizer, checked against each other: what tokenizing for this model needs. */
export async function loadConfigAndTokenizer(files: ModelFiles): Promise<{ cfg: ModelConfig; tokenizer: TextTokenizer }> {
  const cfg = await readModelConfig(files);
  const tokenizer = await loadTokenizer(files, cfg);
  if (tokenizer.vocabSize > cfg.vocabSize) {
    throw new FormatError(
      `${files.name}/tokenizer.json`,
      `knows ${tokenizer.vocabSize} tokens (ids 0 .. ${tokenizer.vocabSize - 1}), but config.json has vocab_size ${cfg.vocabSize}: the tokenizer does not belong to this model`,
    );
  }
  return { cfg, tokenizer };
}

export async function loadModel(gpu: Gpu, files: ModelFiles, opts: LoadOptions = {}): Promise<LoadedModel> {
  const { cfg: fileCfg, tokenizer } = await loadConfigAndTokenizer(files);
  const ckpt = await openCheckpoint(files);
  const cfg = checkpointConfig(fileCfg, ckpt);
  opts.beforeAllocate?.(cfg, planWeights(cfg, ckpt, opts.precision ?? 'auto').bytes);
  const weights = await loadWeights(gpu, cfg, ckpt, {
    precision: opts.precision,
    memoryBudget: opts.memoryBudget,
    onProgress: (d, t) => opts.onProgress?.('weights', d, t),
  });
  const maxPositions = opts.maxPositions ?? defaultMaxPositions(cfg);
  const table = uploadBuffer(gpu, ropeTable(ropeInvFreq(cfg, 'global'), maxPositions), 'rope_table');
  const local = cfg.localRope ? uploadBuffer(gpu, ropeTable(ropeInvFreq(cfg, 'local'), maxPositions), 'rope_table_local') : null;
  return { gpu, name: files.name, cfg, tokenizer, weights, ropeTable: table, localRopeTable: local, maxPositions, lora: null };
}

/** Applies a PEFT adapter folder (unmerged), replacing any adapter applied before. */
export async function applyPeftAdapter(model: LoadedModel, files: ModelFiles): Promise<void> {
  const { weights } = await readPeftAdapter(files, model.cfg);
  if (model.lora) destroyLora(model.gpu, model.lora);
  model.lora = uploadLora(model.gpu, weights);
}

export function forwardContext(model: LoadedModel): ForwardContext {
  return { gpu: model.gpu, cfg: model.cfg, weights: model.weights, ropeTable: model.ropeTable, localRopeTable: model.localRopeTable, lora: model.lora };
}

/** Frees every GPU buffer the model holds. */
export function destroyModel(model: LoadedModel): void {
  const { gpu, weights } = model;
  if (model.lora) destroyLora(gpu, model.lora);
  for (const l of weights.linears.values()) destroyMatrix(gpu, l.w);
  destroyMatrix(gpu, weights.embed);
  if (weights.lmHead !== weights.embed) destroyMatrix(gpu, weights.lmHead);
  for (const b of weights.vectors.values()) gpu.pool.destroy(b);
  gpu.pool.destroy(model.ropeTable);
  if (model.localRopeTable) gpu.pool.destroy(model.localRopeTable);
  weights.linears.clear();
  weights.vectors.clear();
  // What this model's passes left for reuse is sized for it: a next model starts from nothing.
  gpu.pool.trim();
}
