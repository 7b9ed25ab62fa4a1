// Moves a checkpoint's frozen weights onto the GPU: linear weights and embeddings in 16 bits
// (f16, or bf16 kept as bits) unless f32 is asked for; norms and biases in f32 (they are tiny).
// Everything is validated against the parameter table before the first allocation.

import { type Checkpoint, type CheckpointTensor, readTensorBytes } from '../formats/checkpoint.ts';
import { fromFloat32, toFloat32, type FloatDtype } from '../formats/dtype.ts';
import { TensorError } from '../formats/errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { DeviceLimitError } from '../gpu/errors.ts';
import { uploadBuffer } from '../gpu/recorder.ts';
import { type GpuMatrix, uploadMatrix, WEIGHT_BYTES, type WeightDtype } from '../kernels/weights.ts';
import type { ModelConfig } from './config.ts';
import { modelParams } from './params.ts';

/** How frozen matrices are stored: 'auto' keeps bf16/f16 checkpoints as they are and stores f32 ones as f16. */
export type WeightPrecision = 'auto' | 'f16' | 'f32';

export interface LinearWeights {
  w: GpuMatrix;
  bias?: GPUBuffer;
}

export interface ModelWeights {
  /** By module name, e.g. "model.layers.0.self_attn.q_proj". */
  linears: Map<string, LinearWeights>;
  /** Norm weights by tensor name, f32. */
  vectors: Map<string, GPUBuffer>;
  embed: GpuMatrix; // [V, H]
  lmHead: GpuMatrix; // [V, H]; the same object as embed when tied
  /** Bytes the weights occupy on the GPU. */
  bytes: number;
  dtype: WeightDtype;
}

interface PlannedTensor {
  name: string;
  tensor: CheckpointTensor;
  shape: number[];
  /** null: a vector kept in f32. */
  matrixDtype: WeightDtype | null;
  bytes: number;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);
const ST_OF: Record<WeightDtype, FloatDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

function matrixDtype(source: string, precision: WeightPrecision): WeightDtype {
  if (precision === 'f32') return 'f32';
  if (precision === 'f16') return 'f16';
  return source === 'BF16' ? 'bf16' : 'f16';
}

/** Checks presence, shape and dtype of every tensor, and the total size, without allocating. */
export function planWeights(cfg: ModelConfig, ckpt: Checkpoint, precision: WeightPrecision): { tensors: PlannedTensor[]; bytes: number } {
  const tensors: PlannedTensor[] = [];
  let bytes = 0;
  const where = ckpt.files.join(', ') || 'the checkpoint';
  for (const spec of modelParams(cfg)) {
    const t = ckpt.tensors.get(spec.name);
    if (!t) throw new TensorError(where, spec.name, `is missing; config.json describes a ${cfg.hfArchitecture} that needs it`);
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new TensorError(t.file, spec.name, `has shape [${t.shape.join(', ')}], but config.json implies [${spec.shape.join(', ')}]`);
    }
    if (!FLOAT_DTYPES.has(t.dtype)) {
      throw new TensorError(t.file, spec.name, `has dtype ${t.dtype}; supported: F32, F16, BF16`);
    }
    const numel = spec.shape.reduce((a, b) => a * b, 1);
    const isMatrix = spec.shape.length === 2;
    const md = isMatrix ? matrixDtype(t.dtype, precision) : null;
    const size = numel * (md ? WEIGHT_BYTES[md] : 4);
    tensors.push({ name: spec.name, tensor: t, shape: spec.shape, matrixDtype: md, bytes: size });
    bytes += size;
  }
  return { tensors, bytes };
}

async function bytesAs(t: CheckpointTensor, target: FloatDtype): Promise<Uint8Array> {
  const raw = await readTensorBytes(t);
  return t.dtype === target ? raw : fromFloat32(target, toFloat32(t.dtype as FloatDtype, raw));
}

export async function loadWeights(
  gpu: Gpu,
  cfg: ModelConfig,
  ckpt: Checkpoint,
  opts: { precision?: WeightPrecision; memoryBudget?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ModelWeights> {
  const precision = opts.precision ?? 'auto';
  const plan = planWeights(cfg, ckpt, precision);
  const budget = opts.memoryBudget ?? Infinity;
  if (plan.bytes > budget) throw new DeviceLimitError(plan.bytes, budget, `Loading this model's weights (${precision === 'f32' ? 'f32' : '16-bit'})`);

  const linears = new Map<string, LinearWeights>();
  const vectors = new Map<string, GPUBuffer>();
  const matrices = new Map<string, GpuMatrix>();
  let done = 0;
  for (const p of plan.tensors) {
    if (p.matrixDtype) {
      const bytes = await bytesAs(p.tensor, ST_OF[p.matrixDtype]);
      const [rows, cols] = p.shape as [number, number];
      matrices.set(p.name, uploadMatrix(gpu, { dtype: p.matrixDtype, rows, cols, bytes, label: p.name }));
    } else {
      const values = toFloat32(p.tensor.dtype as FloatDtype, await readTensorBytes(p.tensor));
      vectors.set(p.name, uploadBuffer(gpu, values, p.name));
    }
    done += p.bytes;
    opts.onProgress?.(done, plan.bytes);
  }
  for (const [name, w] of matrices) {
    if (!name.endsWith('_proj.weight')) continue;
    const module = name.slice(0, -'.weight'.length);
    const bias = vectors.get(`${module}.bias`);
    linears.set(module, bias ? { w, bias } : { w });
  }
  const embed = matrices.get('model.embed_tokens.weight')!;
  return {
    linears,
    vectors,
    embed,
    lmHead: cfg.tieWordEmbeddings ? embed : matrices.get('lm_head.weight')!,
    bytes: plan.bytes,
    dtype: embed.dtype,
  };
}
