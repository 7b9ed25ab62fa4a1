// Writes a Hugging Face model folder with a LoRA adapter merged into its weights:
// W' = W + scaling * B @ A, computed in f32 on the GPU and cast once to the output dtype, so a
// bf16 model is rounded a single time (merging in bf16 rounds twice and drifts; see FORMATS.md).
// Tensors stream through one at a time: at most one tensor of the output is in memory, never a shard.
// Dimension key: out/in = a linear layer's features, r = LoRA rank, r4 = r rounded up to a multiple
// of 4 (the matmul reads K in vec4s; the padding is zeros), rows = a block of W's rows.
// W: [out, in]   A: [r, in]   B: [out, r]

import type { Gpu } from '../gpu/device.ts';
import { Recorder, readF32, uploadBuffer } from '../gpu/recorder.ts';
import { matmulForward } from '../kernels/matmul.ts';
import { destroyMatrix, uploadMatrix } from '../kernels/weights.ts';
import type { LoraModuleWeights, LoraWeights } from '../lora/adapter.ts';
import { padRank } from '../lora/gpu-lora.ts';
import type { ModelFiles } from './byte-source.ts';
import { readText } from './byte-source.ts';
import { isQuantType } from '../quant/ggml-types.ts';
import { type Checkpoint, type CheckpointTensor, INDEX_FILE, openCheckpoint, readTensorBytes, readTensorF32, SINGLE_FILE, textCheckpoint } from './checkpoint.ts';
import { parseModelConfig } from '../model/config.ts';
import { type FloatDtype, fromFloat32 } from './dtype.ts';
import { FormatError, TensorError } from './errors.ts';
import { ST_DTYPE_BYTES, type StDtype } from './safetensors.ts';
import { safetensorsHeader, type TensorEntry } from './safetensors-write.ts';

export interface MergeOptions {
  /** Output dtype of every float tensor (default: each tensor keeps the checkpoint's dtype). */
  dtype?: FloatDtype;
  /**
   * Largest weight file written, in bytes, header included (default 2 GB = 2_000_000_000). A model
   * that does not fit in one file is split into shards; a single tensor larger than this gets a
   * shard of its own, as transformers' save_pretrained does.
   */
  maxShardBytes?: number;
  /** Bytes of tensor data written so far, out of the total. */
  onProgress?(done: number, total: number): void;
}

/**
 * One file of the merged folder as a stream of byte chunks (a weight file: its header, then one
 * chunk per tensor). Read every chunk of a file before asking the generator for the next file.
 */
export interface StreamedFile {
  name: string;
  chunks: AsyncIterable<Uint8Array>;
}

export const DEFAULT_MAX_SHARD_BYTES = 2_000_000_000;

/** Small files of a model folder copied unchanged when present (config.json is handled apart). */
export const COPIED_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'chat_template.jinja',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
] as const;

const TORCH_DTYPE: Record<FloatDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const FLOAT = new Set<string>(['F32', 'F16', 'BF16']);
/** Dtypes the safetensors writer writes. */
const WRITABLE = new Set<string>(['F32', 'F16', 'BF16', 'I32', 'I64', 'U8']);
const METADATA = { format: 'pt' };

interface PlannedTensor {
  tensor: CheckpointTensor;
  /** Output dtype. */
  dtype: StDtype;
  bytes: number;
  lora?: LoraModuleWeights;
}

/**
 * Yields the files of a Hugging Face model folder with `lora` merged in: config.json (torch_dtype
 * updated when `dtype` changes it), the tokenizer and other small files copied, and
 * model.safetensors, or shards model-0000k-of-0000n.safetensors plus model.safetensors.index.json
 * when the weights do not fit in one file of `maxShardBytes`. Tensors keep the base checkpoint's order.
 */
export async function* mergedModelFiles(gpu: Gpu, base: ModelFiles, lora: LoraWeights, opts: MergeOptions = {}): AsyncGenerator<StreamedFile> {
  const maxShardBytes = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (!Number.isFinite(maxShardBytes) || maxShardBytes <= 0) throw new RangeError(`maxShardBytes must be a positive number, got ${maxShardBytes}`);

  // Everything that can be wrong is checked before the first file is yielded.
  const cfgSrc = await base.get('config.json');
  if (!cfgSrc) throw new FormatError(base.name, 'has no config.json; a merged model needs the base model\'s config');
  const config = await readText(cfgSrc);
  const ckpt = await openCheckpoint(base);
  // A vision-language base keeps its names and vision tower; the adapter names its text model.
  const plan = planTensors(ckpt, textCheckpoint(parseModelConfig(config, cfgSrc.name), ckpt), lora, opts.dtype);
  const shards = planShards(plan, maxShardBytes);

  yield whole('config.json', updatedConfig(config, cfgSrc.name, opts.dtype));
  for (const name of COPIED_FILES) {
    const src = await base.get(name);
    if (src) yield whole(name, (await src.read(0, src.size)).slice());
  }

  const total = plan.reduce((a, p) => a + p.bytes, 0);
  let done = 0;
  const weightMap: Record<string, string> = {};
  async function* shardChunks(group: PlannedTensor[]): AsyncGenerator<Uint8Array> {
    yield safetensorsHeader(group.map((p) => ({ name: p.tensor.name, dtype: p.dtype as TensorEntry['dtype'], shape: p.tensor.shape })), METADATA);
    for (const p of group) {
      yield p.lora ? await mergedTensor(gpu, p.tensor, p.lora, p.dtype as FloatDtype) : await copiedTensor(p.tensor, p.dtype);
      done += p.bytes;
      opts.onProgress?.(done, total);
    }
  }
  for (let k = 0; k < shards.length; k++) {
    const file = shards.length === 1 ? SINGLE_FILE : shardName(k + 1, shards.length);
    for (const p of shards[k]!) weightMap[p.tensor.name] = file;
    yield { name: file, chunks: shardChunks(shards[k]!) };
  }
  if (shards.length > 1) {
    const index = { metadata: { total_size: total }, weight_map: weightMap };
    yield whole(INDEX_FILE, new TextEncoder().encode(JSON.stringify(index, null, 2) + '\n'));
  }
}

function whole(name: string, bytes: Uint8Array): StreamedFile {
  return {
    name,
    chunks: (async function* () {
      yield bytes;
    })(),
  };
}

/** All chunks of a streamed file in one array. */
export async function collectFile(f: StreamedFile): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of f.chunks) parts.push(c);
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** The merged folder as name -> bytes (for tests and small models: the whole model sits in memory). */
export async function mergeToMemory(gpu: Gpu, base: ModelFiles, lora: LoraWeights, opts: MergeOptions = {}): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const f of mergedModelFiles(gpu, base, lora, opts)) out.set(f.name, await collectFile(f));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Planning: output dtype and size of every tensor, the adapter matched to its weights, shards.

/** Each adapted weight's LoRA module by tensor name, checked against the checkpoint's shapes. */
export function matchLora(tensors: Map<string, CheckpointTensor>, lora: LoraWeights): Map<string, LoraModuleWeights> {
  const byWeight = new Map<string, LoraModuleWeights>();
  for (const [module, m] of lora.modules) {
    const name = `${module}.weight`;
    const t = tensors.get(name);
    const where = 'the LoRA adapter';
    if (!t) throw new TensorError(where, name, `is adapted by the LoRA, but the base checkpoint has no such tensor; the adapter was trained on another model`);
    if (!FLOAT.has(t.dtype) && !isQuantType(t.dtype)) throw new TensorError(t.file, name, `has dtype ${t.dtype}; only float and ggml block-format weights can be merged`);
    const [out, inp] = t.shape;
    if (t.shape.length !== 2 || out !== m.outFeatures || inp !== m.inFeatures) {
      throw new TensorError(
        t.file,
        name,
        `has shape [${t.shape.join(', ')}], but the LoRA expects [${m.outFeatures}, ${m.inFeatures}]; the adapter was trained on another model`,
      );
    }
    if (!(m.rank > 0) || m.a.length !== m.rank * m.inFeatures || m.b.length !== m.outFeatures * m.rank) {
      throw new TensorError(where, module, `has rank ${m.rank} but A holds ${m.a.length} and B ${m.b.length} values; A must be [r, in] and B [out, r]`);
    }
    byWeight.set(name, m);
  }
  return byWeight;
}

function planTensors(ckpt: Checkpoint, view: Checkpoint, lora: LoraWeights, dtype: FloatDtype | undefined): PlannedTensor[] {
  const matched = matchLora(view.tensors, lora);
  // By the tensor as the file holds it (the view renames copies of the file's tensors).
  const byWeight = new Map<string, LoraModuleWeights>();
  for (const [name, m] of matched) byWeight.set(view === ckpt ? name : (view.tensors.get(name)!.fileName ?? name), m);
  const plan: PlannedTensor[] = [];
  for (const t of ckpt.tensors.values()) {
    // A GGUF base's block formats are written dequantized, in bf16 unless a dtype is asked for.
    const quant = isQuantType(t.dtype);
    if (!WRITABLE.has(t.dtype) && !quant) throw new TensorError(t.file, t.name, `has dtype ${t.dtype}, which the merged checkpoint cannot be written with (supported: ${[...WRITABLE].join(', ')})`);
    const outDtype: StDtype = quant ? (dtype ?? 'BF16') : dtype && FLOAT.has(t.dtype) ? dtype : (t.dtype as StDtype);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const lm = byWeight.get(t.name);
    plan.push({ tensor: t, dtype: outDtype, bytes: numel * ST_DTYPE_BYTES[outDtype], ...(lm ? { lora: lm } : {}) });
  }
  return plan;
}

const utf8Length = (s: string) => new TextEncoder().encode(s).byteLength;

/**
 * Greedy groups in checkpoint order, each a file of at most maxShardBytes (8-byte length + header
 * padded to 8 + data), counted exactly as safetensorsHeader will write it.
 */
function planShards(plan: PlannedTensor[], maxShardBytes: number): PlannedTensor[][] {
  const base = 2 + utf8Length(JSON.stringify({ __metadata__: METADATA }).slice(1, -1)); // {"__metadata__":{...}}
  const fileSize = (headerJson: number, data: number) => 8 + Math.ceil(headerJson / 8) * 8 + data;
  const groups: PlannedTensor[][] = [];
  let group: PlannedTensor[] = [];
  let header = base;
  let data = 0;
  for (const p of plan) {
    const entry = (offset: number) =>
      1 + utf8Length(JSON.stringify(p.tensor.name)) + 1 + utf8Length(JSON.stringify({ dtype: p.dtype, shape: p.tensor.shape, data_offsets: [offset, offset + p.bytes] }));
    if (group.length > 0 && fileSize(header + entry(data), data + p.bytes) > maxShardBytes) {
      groups.push(group);
      group = [];
      header = base;
      data = 0;
    }
    header += entry(data);
    data += p.bytes;
    group.push(p);
  }
  if (group.length > 0 || groups.length === 0) groups.push(group);
  return groups;
}

function shardName(k: number, n: number): string {
  const pad = (x: number) => String(x).padStart(5, '0');
  return `model-${pad(k)}-of-${pad(n)}.safetensors`;
}

/** config.json, with torch_dtype (and transformers 5's `dtype`) set when the dtype changes. */
function updatedConfig(text: string, file: string, dtype: FloatDtype | undefined): Uint8Array {
  const unchanged = new TextEncoder().encode(text);
  if (!dtype) return unchanged;
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, `is not valid JSON (${(e as Error).message}); download it again`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new FormatError(file, 'is not a JSON object; this is not a model config');
  const c = cfg as Record<string, unknown>;
  const want = TORCH_DTYPE[dtype];
  const keys = ['torch_dtype', 'dtype'].filter((k) => k in c);
  if (keys.length > 0 && keys.every((k) => c[k] === want)) return unchanged;
  if (keys.length === 0) keys.push('torch_dtype');
  for (const k of keys) c[k] = want;
  return new TextEncoder().encode(JSON.stringify(c, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------
// Producing one tensor's bytes.

async function copiedTensor(t: CheckpointTensor, dtype: StDtype): Promise<Uint8Array> {
  if (dtype === t.dtype) return readTensorBytes(t);
  return fromFloat32(dtype as FloatDtype, await readTensorF32(t));
}

/** W + scaling * B @ A in f32 on the GPU, cast once to `dtype`. */
async function mergedTensor(gpu: Gpu, t: CheckpointTensor, m: LoraModuleWeights, dtype: FloatDtype): Promise<Uint8Array> {
  return fromFloat32(dtype, await mergedF32(gpu, t, m));
}

/** W + scaling * B @ A in f32 on the GPU, W dequantized when stored in a block format: [out, in]. */
export async function mergedF32(gpu: Gpu, t: CheckpointTensor, m: LoraModuleWeights): Promise<Float32Array> {
  const { rank: r, inFeatures: inp, outFeatures: out } = m;
  const r4 = padRank(r);
  const w = await readTensorF32(t); // [out, in]
  // A^T: [in, r4], the matmul's "W" (rows = N = in, K = r4); padding columns stay zero.
  const at = new Float32Array(inp * r4);
  for (let k = 0; k < r; k++) for (let i = 0; i < inp; i++) at[i * r4 + k] = m.a[k * inp + i]!;
  const aT = uploadMatrix(gpu, { dtype: 'f32', rows: inp, cols: r4, bytes: new Uint8Array(at.buffer), label: `${t.name}.lora_A^T` });
  try {
    // Rows of W per pass, so that W's block and B's block each fit one storage binding.
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const blockRows = Math.max(1, Math.floor(limit / (4 * Math.max(inp, r4))));
    for (let row0 = 0; row0 < out; row0 += blockRows) {
      const rows = Math.min(blockRows, out - row0);
      const bBlock = new Float32Array(rows * r4); // B[row0 : row0+rows]: [rows, r4]
      for (let o = 0; o < rows; o++) bBlock.set(m.b.subarray((row0 + o) * r, (row0 + o + 1) * r), o * r4);
      const x = uploadBuffer(gpu, bBlock, `${t.name}.lora_B`);
      const y = uploadBuffer(gpu, w.subarray(row0 * inp, (row0 + rows) * inp), t.name); // [rows, in]
      try {
        const rec = new Recorder(gpu);
        matmulForward(rec, { x, w: aT, y, M: rows, alpha: m.scaling, accumulate: true });
        rec.submit();
        w.set(await readF32(gpu, y, 0, rows * inp), row0 * inp);
      } finally {
        gpu.pool.destroy(x);
        gpu.pool.destroy(y);
      }
    }
  } finally {
    destroyMatrix(gpu, aT);
  }
  return w;
}
