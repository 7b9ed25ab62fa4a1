// Opens every weight of a model folder, single-file or sharded, as one name -> tensor table.
// Only headers are read here; tensor bytes are fetched one at a time by readTensorBytes, so a
// multi-gigabyte checkpoint never has to sit in memory at once.

import type { ByteSource, ModelFiles } from './byte-source.ts';
import { readText } from './byte-source.ts';
import { dequantizeRow } from '../quant/dequantize.ts';
import { isQuantType, type QuantType } from '../quant/ggml-types.ts';
import { fromFloat32, toFloat32, type FloatDtype } from './dtype.ts';
import { FormatError, TensorError } from './errors.ts';
import { ggufCheckpoint, openGgufModel } from './gguf-model.ts';
import { permuteRotaryRows } from './gguf-lora.ts';
import type { ModelConfig } from '../model/config.ts';
import { readSafetensorsHeader } from './safetensors.ts';
import type { StDtype } from './safetensors.ts';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export interface CheckpointTensor {
  /** transformers' name, e.g. "model.layers.0.self_attn.q_proj.weight". */
  name: string;
  /** A safetensors dtype, or a ggml block format (a GGUF model's quantized tensors). */
  dtype: StDtype | QuantType;
  shape: number[];
  /** The weight file holding it, as named in the model folder. */
  file: string;
  source: ByteSource;
  info: { byteOffset: number; byteLength: number };
  /**
   * Stored in llama.cpp's rotary row order over this many heads (a GGUF llama's q/k): reading
   * restores the Hugging Face order, whole rows at a time, whatever the dtype.
   */
  rotaryHeads?: number;
  /**
   * Added to every value when read (a float dtype): a GGUF Gemma's norms, which llama.cpp's converter
   * stores as 1 + w, read back as transformers' w.
   */
  valueOffset?: number;
  /** The name in the file when it differs from `name` (a GGUF's "blk.0.attn_q.weight"), for messages. */
  fileName?: string;
}

export interface Checkpoint {
  /** Weight files, in the order they were opened. */
  files: string[];
  tensors: Map<string, CheckpointTensor>;
  /** Bytes of tensor data over all files (what loading the weights will read). */
  totalBytes: number;
}

export async function openCheckpoint(files: ModelFiles): Promise<Checkpoint> {
  if (files.gguf) return ggufCheckpoint(await openGgufModel(await files.gguf()));
  const single = await files.get(SINGLE_FILE);
  if (single) {
    const ckpt: Checkpoint = { files: [], tensors: new Map(), totalBytes: 0 };
    await addShard(ckpt, SINGLE_FILE, single);
    return ckpt;
  }
  const index = await files.get(INDEX_FILE);
  if (!index) {
    throw new FormatError(
      files.name,
      `has no model weights: looked for "${SINGLE_FILE}" and "${INDEX_FILE}" (tabtune reads safetensors only, not pytorch_model.bin); add the weight files to the folder`,
    );
  }
  return openSharded(files, index);
}

/** Raw little-endian bytes of one tensor, rows in the Hugging Face order. */
export async function readTensorBytes(t: CheckpointTensor): Promise<Uint8Array> {
  try {
    let raw = await t.source.read(t.info.byteOffset, t.info.byteLength);
    if (t.valueOffset) {
      if (isQuantType(t.dtype)) throw new TensorError(t.source.name, t.name, `is stored as ${t.dtype}; a norm weight must be a float tensor`);
      raw = fromFloat32(t.dtype as FloatDtype, toFloat32(t.dtype as FloatDtype, raw).map((x) => x + t.valueOffset!));
    }
    if (!t.rotaryHeads) return raw;
    const rows = t.shape[0]!;
    return permuteRotaryRows(raw, rows, raw.byteLength / rows, t.rotaryHeads, true);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new TensorError(t.source.name, t.name, `could not be read (${(e as Error).message}); the file may have changed since it was opened`);
  }
}

/** One tensor's values in f32: float dtypes widened, block formats dequantized as ggml does. */
export async function readTensorF32(t: CheckpointTensor): Promise<Float32Array> {
  const raw = await readTensorBytes(t);
  if (isQuantType(t.dtype)) return dequantizeRow(t.dtype, raw, t.shape.reduce((a, b) => a * b, 1));
  return toFloat32(t.dtype as FloatDtype, raw);
}

async function openSharded(files: ModelFiles, index: ByteSource): Promise<Checkpoint> {
  const weightMap = parseWeightMap(index.name, await readText(index));
  const shardNames = [...new Set(weightMap.values())];
  const ckpt: Checkpoint = { files: [], tensors: new Map(), totalBytes: 0 };
  for (const shard of shardNames) {
    const src = await files.get(shard);
    if (!src) {
      throw new FormatError(
        index.name,
        `lists shard "${shard}", which is missing from ${files.name}; download that file too (every shard of the index is needed)`,
      );
    }
    await addShard(ckpt, shard, src);
  }
  for (const [tensor, shard] of weightMap) {
    const found = ckpt.tensors.get(tensor);
    if (!found || found.file !== shard) {
      const where = found ? `; it is in "${found.file}"` : '';
      throw new TensorError(
        index.name,
        tensor,
        `is mapped to shard "${shard}" by the index, but that shard does not hold it${where}; the index and the shards come from different downloads`,
      );
    }
  }
  for (const t of ckpt.tensors.values()) {
    if (!weightMap.has(t.name)) {
      throw new TensorError(
        t.source.name,
        t.name,
        `is stored in this shard, but ${index.name} does not list it in its "weight_map"; the index and the shards come from different downloads`,
      );
    }
  }
  return ckpt;
}

async function addShard(ckpt: Checkpoint, file: string, src: ByteSource): Promise<void> {
  const header = await readSafetensorsHeader(src);
  for (const info of header.tensors.values()) {
    const prev = ckpt.tensors.get(info.name);
    if (prev) {
      throw new TensorError(
        src.name,
        info.name,
        `is also in "${prev.file}"; a tensor must be stored in exactly one shard, the download mixes two checkpoints`,
      );
    }
    ckpt.tensors.set(info.name, { name: info.name, dtype: info.dtype, shape: info.shape, file, source: src, info: { byteOffset: info.byteOffset, byteLength: info.byteLength } });
    ckpt.totalBytes += info.byteLength;
  }
  ckpt.files.push(file);
}

function parseWeightMap(file: string, text: string): Map<string, string> {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, `is not valid JSON (${(e as Error).message}); download it again`);
  }
  const wm = typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>).weight_map : undefined;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
    throw new FormatError(file, 'has no "weight_map" object (tensor name -> shard file); this is not a safetensors index');
  }
  const out = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(wm)) {
    if (typeof shard !== 'string' || !isPlainRelativePath(shard)) {
      throw new TensorError(file, tensor, `is mapped to ${JSON.stringify(shard)}; a shard must be a file name inside the model folder`);
    }
    out.set(tensor, shard);
  }
  if (out.size === 0) throw new FormatError(file, 'has an empty "weight_map"; the model has no weights listed');
  return out;
}

/** Keeps an index from pointing outside its folder (or hub repo). */
function isPlainRelativePath(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.includes('\\')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Where a multimodal checkpoint keeps its text model: transformers >= 4.52 first, then older saves. */
const LANGUAGE_MODEL_PREFIXES: [string, string][] = [
  ['model.language_model.', 'model.'],
  ['language_model.model.', 'model.'],
  ['language_model.lm_head.', 'lm_head.'],
];

/**
 * A vision-language checkpoint (Gemma3ForConditionalGeneration) seen as its text model: tensors under
 * "model.language_model." (transformers >= 4.52) or "language_model.model." (older) get the plain
 * causal-LM names ("model.layers.0...."), "language_model.lm_head.weight" becomes "lm_head.weight", a
 * plain "lm_head.weight" stays; the vision tower and the projector are left out. Each renamed tensor
 * keeps its name in the file as `fileName`, for messages. Two tensors that would get the same name
 * mean two checkpoints were mixed.
 */
export function languageModelView(ckpt: Checkpoint): Checkpoint {
  const tensors = new Map<string, CheckpointTensor>();
  for (const t of ckpt.tensors.values()) {
    const hit = LANGUAGE_MODEL_PREFIXES.find(([from]) => t.name.startsWith(from));
    if (!hit && t.name !== 'lm_head.weight') continue;
    const name = hit ? hit[1] + t.name.slice(hit[0].length) : t.name;
    const prev = tensors.get(name);
    if (prev) {
      throw new TensorError(t.source.name, t.name, `holds the text model's "${name}", as "${prev.fileName ?? prev.name}" does; the folder mixes two saves of the model`);
    }
    tensors.set(name, name === t.name ? t : { ...t, name, fileName: t.name });
  }
  return { ...ckpt, tensors };
}

/** A vision-language checkpoint whose text model tabtune runs (Gemma3ForConditionalGeneration). */
export function isVisionLanguage(cfg: Pick<ModelConfig, 'hfArchitecture'>): boolean {
  return cfg.hfArchitecture === 'Gemma3ForConditionalGeneration';
}

/** The checkpoint's tensors under the names the engine uses: a vision-language checkpoint's text model. */
export function textCheckpoint(cfg: Pick<ModelConfig, 'hfArchitecture'>, ckpt: Checkpoint): Checkpoint {
  return isVisionLanguage(cfg) ? languageModelView(ckpt) : ckpt;
}
