// Moves a checkpoint's frozen weights onto the GPU. Linear weights and embeddings: 16 bits by
// default (f16, or bf16 kept as bits), a GGUF's block formats kept as they are, or converted on load
// to what `--base-weights` asks (f32, f16, bf16, or quantized to Q8_0 / Q4_0 / Q4_K tensor by
// tensor, as bitsandbytes' load_in_4bit does, never the whole model in f32). Norms and biases in f32
// (they are tiny). Everything is validated against the parameter table before the first allocation.

import { type Checkpoint, type CheckpointTensor, readTensorBytes, textCheckpoint } from '../formats/checkpoint.ts';
import { ggufTensorName } from '../formats/gguf-model.ts';
import { fromFloat32, toFloat32, type FloatDtype } from '../formats/dtype.ts';
import { TensorError } from '../formats/errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { DeviceLimitError } from '../gpu/errors.ts';
import { uploadBuffer } from '../gpu/recorder.ts';
import { type GpuMatrix, isQuantDtype, matrixBytes, uploadMatrix, type WeightDtype } from '../kernels/weights.ts';
import { dequantizeRow } from '../quant/dequantize.ts';
import { isQuantType, type QuantType, rowBytes, typeInfo } from '../quant/ggml-types.ts';
import { quantizeRows } from '../quant/quantize.ts';
import type { ModelConfig } from './config.ts';
import { gemmaEmbedScale } from './config-gemma3.ts';
import { isNormWeight, modelParams } from './params.ts';

/**
 * How frozen matrices are stored on the GPU. 'auto' keeps a GGUF's block formats and bf16/f16
 * checkpoints as they are and stores f32 ones as f16; the others convert every matrix on load.
 */
export type WeightPrecision = 'auto' | 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_k';
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ['auto', 'f16', 'bf16', 'f32', 'q8_0', 'q4_0', 'q4_k'];

export interface LinearWeights {
  w: GpuMatrix;
  bias?: GPUBuffer;
}

export interface ModelWeights {
  /** By module name, e.g. "model.layers.0.self_attn.q_proj". */
  linears: Map<string, LinearWeights>;
  /** Norm weights (as the norm multiplies by them: 1 + w for Gemma) and biases by tensor name, f32. */
  vectors: Map<string, GPUBuffer>;
  embed: GpuMatrix; // [V, H]
  lmHead: GpuMatrix; // [V, H]; the same object as embed when tied
  /** Bytes the weights occupy on the GPU. */
  bytes: number;
  /** The embedding's dtype (a mixed GGUF file holds several; `dtypes` counts them). */
  dtype: WeightDtype;
  /** How many matrices are stored in each dtype. */
  dtypes: Partial<Record<WeightDtype, number>>;
}

interface PlannedTensor {
  name: string;
  tensor: CheckpointTensor | null;
  shape: number[];
  /** null: a vector kept in f32. */
  matrixDtype: WeightDtype | null;
  bytes: number;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);
const ST_OF: Record<string, FloatDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
const QUANT_OF: Record<string, QuantType> = { q8_0: 'Q8_0', q4_0: 'Q4_0', q4_k: 'Q4_K' };

/**
 * When rows are not whole blocks of the asked type, llama.cpp's quantizer falls back to a type with
 * smaller blocks; so does tabtune: Q4_K -> Q4_1 (llama.cpp picks Q5_0; Q4_1 keeps a 4-bit base
 * 4-bit, with Q4_K's per-block minimum) -> f16; Q8_0, Q4_0 -> f16.
 */
const FALLBACK: Partial<Record<QuantType, QuantType>> = { Q4_K: 'Q4_1' };

/** The GPU dtype of a [rows, cols] matrix stored as `source` in the checkpoint. */
export function matrixDtype(source: string, precision: WeightPrecision, cols: number): WeightDtype {
  if (precision === 'auto') {
    if (isQuantType(source)) return source;
    return source === 'BF16' ? 'bf16' : 'f16';
  }
  let q: QuantType | undefined = QUANT_OF[precision];
  if (!q) return precision as WeightDtype;
  while (q && cols % typeInfo(q).blockSize !== 0) q = FALLBACK[q];
  return q ?? 'f16';
}

/**
 * The config with what only the weights tell: Gemma 3 multiplies its embeddings by sqrt(H) rounded
 * to the embedding's own dtype (transformers: embed_scale.to(weight.dtype)), which config.json's
 * torch_dtype may not state or may misstate.
 */
export function checkpointConfig(cfg: ModelConfig, ckpt: Checkpoint): ModelConfig {
  if (cfg.architecture !== 'gemma3') return cfg;
  const t = textCheckpoint(cfg, ckpt).tensors.get('model.embed_tokens.weight');
  if (!t || !FLOAT_DTYPES.has(t.dtype)) return cfg;
  return { ...cfg, embedScale: gemmaEmbedScale(cfg.hiddenSize, t.dtype as FloatDtype) };
}

/**
 * Checks presence, shape and dtype of every tensor, and the total size, without allocating. With
 * no checkpoint (a config.json alone: planning before a download), tensors are taken to be stored
 * in the config's torch_dtype.
 */
export function planWeights(cfg: ModelConfig, file: Checkpoint | null, precision: WeightPrecision): { tensors: PlannedTensor[]; bytes: number } {
  const ckpt = file && textCheckpoint(cfg, file);
  const tensors: PlannedTensor[] = [];
  let bytes = 0;
  const where = ckpt ? [...new Set([...ckpt.tensors.values()].map((t) => t.source.name))].join(', ') || ckpt.files.join(', ') || 'the checkpoint' : '';
  const specs = modelParams(cfg);
  if (ckpt) checkUnexpected(cfg, ckpt, new Set(specs.map((p) => p.name)));
  const assumed = cfg.torchDtype === 'float32' ? 'F32' : cfg.torchDtype === 'float16' ? 'F16' : 'BF16';
  for (const spec of specs) {
    const t = ckpt ? ckpt.tensors.get(spec.name) : null;
    if (ckpt && !t) {
      const hint = spec.name === 'lm_head.weight' && !cfg.ggufArchitecture ? ' (if the model reuses its embeddings as the output head, config.json must say "tie_word_embeddings": true)' : '';
      throw new TensorError(where, shownName(cfg, spec.name), `is missing; ${doc(cfg)} describes a ${cfg.hfArchitecture} that needs it${hint}`);
    }
    if (t && (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i]))) {
      throw new TensorError(t.source.name, t.fileName ?? shownName(cfg, spec.name), `has shape [${t.shape.join(', ')}], but ${doc(cfg)} implies [${spec.shape.join(', ')}]${shapeHint(cfg, spec.name)}; ${doc(cfg)} and the weights do not belong together`);
    }
    if (t && !FLOAT_DTYPES.has(t.dtype) && !isQuantType(t.dtype)) {
      throw new TensorError(t.source.name, shownName(cfg, spec.name), `has dtype ${t.dtype}; supported: F32, F16, BF16 and ggml's Q2_K .. Q8_0 block formats`);
    }
    const source = t?.dtype ?? assumed;
    const isMatrix = spec.shape.length === 2;
    if (!isMatrix && isQuantType(source)) throw new TensorError(t!.source.name, shownName(cfg, spec.name), `is a vector stored as ${source}; llama.cpp keeps vectors in F32, the file is corrupt`);
    const md = isMatrix ? matrixDtype(source, precision, spec.shape[1]!) : null;
    const size = md ? matrixBytes(md, spec.shape[0]!, spec.shape[1]!) : spec.shape.reduce((a, b) => a * b, 1) * 4;
    tensors.push({ name: spec.name, tensor: t ?? null, shape: spec.shape, matrixDtype: md, bytes: size });
    bytes += size;
  }
  return { tensors, bytes };
}

/** A tensor as its file names it: llama.cpp's name in a GGUF ("blk.0.ffn_up.weight"). */
const shownName = (cfg: ModelConfig, hfName: string) => (cfg.ggufArchitecture ? (ggufTensorName(hfName) ?? hfName) : hfName);

/** Where the config came from, for messages: config.json, or a GGUF file's metadata. */
const doc = (cfg: ModelConfig) => (cfg.ggufArchitecture ? 'the GGUF metadata' : 'config.json');

/** llama.cpp's metadata keys (after "<arch>.") for the config.json fields messages name. */
const GGUF_KEYS: Record<string, string> = {
  vocab_size: 'vocab_size', hidden_size: 'embedding_length', intermediate_size: 'feed_forward_length', num_hidden_layers: 'block_count',
  num_attention_heads: 'attention.head_count', num_key_value_heads: 'attention.head_count_kv', head_dim: 'attention.key_length',
};
const field = (cfg: ModelConfig, name: string) => (cfg.ggufArchitecture ? `${cfg.ggufArchitecture}.${GGUF_KEYS[name] ?? name}` : name);

/** The config fields a tensor's shape follows from. */
function shapeHint(cfg: ModelConfig, name: string): string {
  const fields = (...names: string[]) => ` (${names.map((n) => field(cfg, n)).join(', ')})`;
  if (name.includes('embed_tokens') || name.startsWith('lm_head')) return fields('vocab_size', 'hidden_size');
  if (/_proj\.(weight|bias)$/.test(name)) return name.includes('.mlp.')
    ? fields('hidden_size', 'intermediate_size')
    : fields('hidden_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim');
  if (/_norm\.weight$/.test(name)) return name.includes('self_attn') ? fields('head_dim') : fields('hidden_size');
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
      throw new TensorError(t.source.name, shownName(cfg, t.name), `belongs to layer ${layer[1]}, but ${doc(cfg)} has ${field(cfg, 'num_hidden_layers')} ${cfg.numLayers} (layers 0 .. ${cfg.numLayers - 1}); ${doc(cfg)} and the weights do not belong together`);
    }
    if (/_proj\.bias$/.test(t.name)) {
      const field = t.name.includes('.mlp.') ? 'mlp_bias' : 'attention_bias';
      throw new TensorError(t.source.name, t.name, `is a bias that the ${cfg.hfArchitecture} described by config.json does not have (see "${field}"); config.json and the weights do not belong together`);
    }
    if (/self_attn\.[qk]_norm\.weight$/.test(t.name)) {
      throw new TensorError(t.source.name, t.name, `is a q/k norm, which ${cfg.hfArchitecture} does not have (Qwen3ForCausalLM and Gemma3ForCausalLM do); check "architectures" in config.json`);
    }
    if (/(pre|post)_feedforward_layernorm\.weight$/.test(t.name)) {
      throw new TensorError(t.source.name, t.name, `is one of Gemma's norms around the MLP, which ${cfg.hfArchitecture} does not have; check "architectures" in config.json`);
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

/** `first`: the element index of values[0] in the tensor, for the message. */
function checkFinite(t: CheckpointTensor, values: Float32Array, first = 0): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new TensorError(t.source.name, t.fileName ?? t.name, `holds ${values[i]} at element ${first + i}; model weights must be finite numbers, the file is corrupt (download it again)`);
    }
  }
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

/** f32 values converted at a time: a 128256 x 4096 embedding is never whole in f32 (2 GiB). */
const BLOCK_VALUES = 1 << 22;

/**
 * One matrix's bytes in `target` (ggml's own block bytes for a block format): kept as stored when
 * it already is, else converted through f32 a few MiB of rows at a time. Every value is checked
 * finite on the way (for a block format, through its dequantized values: a bad f16 scale shows there).
 */
async function matrixBytesAs(t: CheckpointTensor, target: WeightDtype, rows: number, cols: number): Promise<Uint8Array> {
  const st = ST_OF[target];
  if (!isQuantType(t.dtype) && t.dtype === st) return checkedBytes(t);
  const raw = await readTensorBytes(t);
  const inBytes = isQuantType(t.dtype) ? rowBytes(t.dtype, cols) : cols * (t.dtype === 'F32' ? 4 : 2);
  const outBytes = isQuantDtype(target) ? rowBytes(target, cols) : cols * (target === 'f32' ? 4 : 2);
  const keep = t.dtype === target;
  const out = keep ? raw : new Uint8Array(rows * outBytes);
  const step = Math.max(1, Math.floor(BLOCK_VALUES / cols));
  for (let r0 = 0; r0 < rows; r0 += step) {
    const n = Math.min(step, rows - r0);
    const part = raw.subarray(r0 * inBytes, (r0 + n) * inBytes);
    const values = isQuantType(t.dtype) ? dequantizeRow(t.dtype, part, n * cols) : toFloat32(t.dtype as FloatDtype, part);
    checkFinite(t, values, r0 * cols);
    if (!keep) out.set(isQuantDtype(target) ? quantizeRows(target, values, n, cols) : fromFloat32(st!, values), r0 * outBytes);
  }
  return out;
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
  if (plan.bytes > budget) throw new DeviceLimitError(plan.bytes, budget, `Loading this model's weights (${precision === 'auto' ? 'as stored' : precision})`);

  const linears = new Map<string, LinearWeights>();
  const vectors = new Map<string, GPUBuffer>();
  const matrices = new Map<string, GpuMatrix>();
  const dtypes: Partial<Record<WeightDtype, number>> = {};
  let done = 0;
  for (const p of plan.tensors) {
    const t = p.tensor!;
    if (p.matrixDtype) {
      const [rows, cols] = p.shape as [number, number];
      const bytes = await matrixBytesAs(t, p.matrixDtype, rows, cols);
      matrices.set(p.name, uploadMatrix(gpu, { dtype: p.matrixDtype, rows, cols, bytes, label: p.name }));
      dtypes[p.matrixDtype] = (dtypes[p.matrixDtype] ?? 0) + 1;
    } else {
      // Vectors are float (planWeights refuses a quantized one).
      const values = toFloat32(t.dtype as FloatDtype, await checkedBytes(t));
      // Gemma stores norm weights as offsets from 1: the GPU holds 1 + w, rounded to f32 as transformers
      // rounds (1.0 + weight.float()), so the norm kernels stay the same.
      if (cfg.normOffset !== 0 && isNormWeight(p.name)) for (let i = 0; i < values.length; i++) values[i]! += cfg.normOffset;
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
    dtypes,
  };
}
