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
  const where = [...new Set([...ckpt.tensors.values()].map((t) => t.source.name))].join(', ') || ckpt.files.join(', ') || 'the checkpoint';
  const specs = modelParams(cfg);
  checkUnexpected(cfg, ckpt, new Set(specs.map((p) => p.name)));
  for (const spec of specs) {
    const t = ckpt.tensors.get(spec.name);
    if (!t) {
      const hint = spec.name === 'lm_head.weight' ? ' (if the model reuses its embeddings as the output head, config.json must say "tie_word_embeddings": true)' : '';
      throw new TensorError(where, spec.name, `is missing; config.json describes a ${cfg.hfArchitecture} that needs it${hint}`);
    }
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new TensorError(t.source.name, spec.name, `has shape [${t.shape.join(', ')}], but config.json implies [${spec.shape.join(', ')}]${shapeHint(spec.name)}; config.json and the weights do not belong together`);
    }
    if (!FLOAT_DTYPES.has(t.dtype)) {
      throw new TensorError(t.source.name, spec.name, `has dtype ${t.dtype}; supported: F32, F16, BF16`);
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

/** The config.json fields a tensor's shape follows from. */
function shapeHint(name: string): string {
  if (name.includes('embed_tokens') || name.startsWith('lm_head')) return ' (vocab_size, hidden_size)';
  if (/_proj\.(weight|bias)$/.test(name)) return name.includes('.mlp.')
    ? ' (hidden_size, intermediate_size)'
    : ' (hidden_size, num_attention_heads, num_key_value_heads, head_dim)';
  if (/_norm\.weight$/.test(name)) return name.includes('self_attn') ? ' (head_dim)' : ' (hidden_size)';
  return '';
}

/**
 * Tensors the model would silently ignore although they mean config.json is not this checkpoint's:
 * layers past num_hidden_layers, and biases or q/k norms the configured architecture does not have.
 * (Other extras, such as an old checkpoint's rotary_emb.inv_freq, are ignored as transformers does.)
 */
function checkUnexpected(cfg: ModelConfig, ckpt: Checkpoint, expected: Set<string>): void {
  for (const t of ckpt.tensors.values()) {
    if (expected.has(t.name)) continue;
    const layer = /^model\.layers\.(\d+)\./.exec(t.name);
    if (layer && Number(layer[1]) >= cfg.numLayers) {
      throw new TensorError(t.source.name, t.name, `belongs to layer ${layer[1]}, but config.json has num_hidden_layers ${cfg.numLayers} (layers 0 .. ${cfg.numLayers - 1}); config.json and the weights do not belong together`);
    }
    if (/_proj\.bias$/.test(t.name)) {
      const field = t.name.includes('.mlp.') ? 'mlp_bias' : 'attention_bias';
      throw new TensorError(t.source.name, t.name, `is a bias that the ${cfg.hfArchitecture} described by config.json does not have (see "${field}"); config.json and the weights do not belong together`);
    }
    if (/self_attn\.[qk]_norm\.weight$/.test(t.name)) {
      throw new TensorError(t.source.name, t.name, `is a q/k norm, which ${cfg.hfArchitecture} does not have (Qwen3ForCausalLM does); check "architectures" in config.json`);
    }
  }
}

/** NaN or infinity in raw little-endian float bytes: the index of the first, or -1. Exponent bits all set. */
export function firstNonFinite(dtype: FloatDtype, bytes: Uint8Array): number {
  const width = dtype === 'F32' ? 4 : 2;
  // Typed arrays read the host's byte order, little-endian on every platform WebGPU runs on.
  const aligned = bytes.byteOffset % width === 0 ? bytes : bytes.slice();
  const n = Math.floor(aligned.byteLength / width);
  const words = width === 4 ? new Uint32Array(aligned.buffer, aligned.byteOffset, n) : new Uint16Array(aligned.buffer, aligned.byteOffset, n);
  const mask = dtype === 'F32' ? 0x7f800000 : dtype === 'F16' ? 0x7c00 : 0x7f80;
  for (let i = 0; i < n; i++) if ((words[i]! & mask) === mask) return i;
  return -1;
}

async function checkedBytes(t: CheckpointTensor): Promise<Uint8Array> {
  const raw = await readTensorBytes(t);
  const bad = firstNonFinite(t.dtype as FloatDtype, raw);
  if (bad >= 0) {
    const v = toFloat32(t.dtype as FloatDtype, raw.subarray(bad * (t.dtype === 'F32' ? 4 : 2), (bad + 1) * (t.dtype === 'F32' ? 4 : 2)))[0];
    throw new TensorError(t.source.name, t.name, `holds ${v} at element ${bad}; model weights must be finite numbers, the file is corrupt (download it again)`);
  }
  return raw;
}

async function bytesAs(t: CheckpointTensor, target: FloatDtype): Promise<Uint8Array> {
  const raw = await checkedBytes(t);
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
      const values = toFloat32(p.tensor.dtype as FloatDtype, await checkedBytes(p.tensor));
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
