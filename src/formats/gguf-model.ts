// A GGUF model file (llama.cpp, Ollama, LM Studio) seen as a Hugging Face model folder: config.json
// is made from the metadata, the tensors get transformers' names, and llama's q/k rows, which
// llama.cpp's converter permuted into its rotary layout, are read back in the original order, so the
// model computes what the original Hugging Face model computes and a PEFT adapter trained on it
// applies to that original checkpoint. The tokenizer comes from the metadata unless a tokenizer.json
// sits beside the file. Only the header is read here; tensors are read one at a time when loaded.
// Dimension key: V = vocab, H = hidden, I = intermediate, L = layers, nH / nKV = heads, D = head dim.

import type { ByteSource, ModelFiles } from './byte-source.ts';
import { bytesSource } from './byte-source.ts';
import type { Checkpoint, CheckpointTensor } from './checkpoint.ts';
import { FormatError, TensorError } from './errors.ts';
import { type GgufHeader, type GgufValue, readGgufHeader } from './gguf.ts';
import { GgufMetadata } from './gguf-metadata.ts';
import { tokenizerFilesFromGguf } from './gguf-tokenizer.ts';
import { once } from '../util/once.ts';

/** general.architecture values tabtune runs, with transformers' class for each. */
const ARCHITECTURES: Record<string, { hf: string; modelType: string }> = {
  llama: { hf: 'LlamaForCausalLM', modelType: 'llama' },
  qwen2: { hf: 'Qwen2ForCausalLM', modelType: 'qwen2' },
  qwen3: { hf: 'Qwen3ForCausalLM', modelType: 'qwen3' },
  gemma3: { hf: 'Gemma3ForCausalLM', modelType: 'gemma3_text' },
};

/** llama.cpp's per-layer tensor names (between "blk.N." and ".weight"/".bias") -> transformers'. */
const LAYER_TENSORS: Record<string, string> = {
  attn_norm: 'input_layernorm',
  ffn_norm: 'post_attention_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  attn_q_norm: 'self_attn.q_norm',
  attn_k_norm: 'self_attn.k_norm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};
/** Gemma 3's four norms per layer: its post_attention_layernorm norms the attention output, not the MLP input. */
const GEMMA3_LAYER_TENSORS: Record<string, string> = {
  ...Object.fromEntries(Object.entries(LAYER_TENSORS).filter(([g]) => g !== 'ffn_norm')),
  post_attention_norm: 'post_attention_layernorm',
  ffn_norm: 'pre_feedforward_layernorm',
  post_ffw_norm: 'post_feedforward_layernorm',
};
const layerTensors = (arch: string) => (arch === 'gemma3' ? GEMMA3_LAYER_TENSORS : LAYER_TENSORS);
const GLOBAL_TENSORS: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};
const ROPE_FREQS = 'rope_freqs.weight';

/** A GGUF model: its header, and the folder view the rest of tabtune loads. */
export interface GgufModel {
  source: ByteSource;
  header: GgufHeader;
  architecture: string;
  /** config.json as transformers would have it. */
  config: Record<string, unknown>;
  /** Llama 3 style per-pair RoPE frequency divisors (rope_freqs.weight), or null. */
  ropeFreqFactors: number[] | null;
}

const opened = new WeakMap<ByteSource, Promise<GgufModel>>();

/** Reads and checks a GGUF model's header once per source. */
export function openGgufModel(source: ByteSource): Promise<GgufModel> {
  let p = opened.get(source);
  if (!p) {
    p = readModel(source);
    opened.set(source, p);
    p.catch(() => opened.delete(source));
  }
  return p;
}

async function readModel(source: ByteSource): Promise<GgufModel> {
  const header = await readGgufHeader(source, 'compute');
  const file = source.name;
  const md = header.metadata;
  const meta = new GgufMetadata(md, file);
  if (meta.string('general.type') === 'adapter') {
    throw new FormatError(file, 'is a GGUF LoRA adapter (general.type "adapter"), not a model: load its base model with --model and the adapter with --adapter');
  }
  const arch = meta.string('general.architecture') ?? meta.fail('general.architecture', 'is missing; every GGUF model names its architecture there');
  if (!ARCHITECTURES[arch]) {
    throw new FormatError(file, `has general.architecture "${arch}"; tabtune runs ${Object.keys(ARCHITECTURES).join(', ')} (Llama 2/3.x, Mistral-style, SmolLM, TinyLlama, Qwen2/2.5, Qwen3, Gemma 3)`);
  }
  const tensors = new Map(header.tensors.map((t) => [t.name, t]));
  const config = configFromMetadata(file, arch, md, tensors);
  let ropeFreqFactors: number[] | null = null;
  const rf = tensors.get(ROPE_FREQS);
  if (rf) {
    const headDim = config.head_dim as number;
    if (rf.type !== 'F32' || rf.dims.length !== 1 || rf.dims[0] !== headDim / 2) {
      throw new TensorError(file, ROPE_FREQS, `is [${rf.dims}] ${rf.type}; llama.cpp's RoPE frequency factors are [head_dim / 2 = ${headDim / 2}] F32`);
    }
    const bytes = await source.read(rf.offset, rf.size);
    ropeFreqFactors = [...new Float32Array(bytes.slice().buffer)];
    if (ropeFreqFactors.some((f) => !(f > 0) || !Number.isFinite(f))) {
      throw new TensorError(file, ROPE_FREQS, 'holds a factor that is not a positive finite number; the file is corrupt');
    }
    // config.json (kept by a merge into a Hugging Face folder) says it as transformers does.
    const scaling = llama3ScalingOf(ropeFreqFactors, headDim, config.rope_theta as number);
    if (scaling) config.rope_scaling = scaling;
  }
  return { source, header, architecture: arch, config, ropeFreqFactors };
}

/**
 * The Llama 3 rope_scaling whose per-pair divisors (as convert_hf_to_gguf computes them) are
 * `factors`, searched over the values published models use; null when none gives them.
 */
export function llama3ScalingOf(factors: number[], headDim: number, theta: number): Record<string, unknown> | null {
  const factor = Math.max(...factors);
  if (factor <= 1) return null;
  for (let orig = 16; orig <= 2 ** 20; orig *= 2) {
    for (const [low, high] of [[1, 4], [1, 2], [1, 8], [2, 4]] as const) {
      const fits = factors.every((f, j) => {
        const wavelen = (2 * Math.PI) * theta ** ((2 * j) / headDim);
        let want = 1;
        if (wavelen > orig / low) want = factor;
        else if (wavelen >= orig / high) {
          const smooth = (orig / wavelen - low) / (high - low);
          want = 1 / ((1 - smooth) / factor + smooth);
        }
        return Math.abs(f - want) <= 1e-5 * want;
      });
      if (fits) return { rope_type: 'llama3', factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: orig };
    }
  }
  return null;
}

/** A model's hyperparameters from its metadata: typed by GgufMetadata, then required or defaulted. */
class Hyperparameters {
  constructor(
    readonly m: GgufMetadata,
    readonly arch: string,
  ) {}

  private missing(key: string): never {
    return this.m.fail(key, `is missing, and a ${this.arch} model needs it; the file is incomplete (convert it again with a current llama.cpp)`);
  }

  int(key: string, fallback?: number): number {
    const n = this.m.int(key, 'a positive integer') ?? fallback ?? this.missing(key);
    if (n <= 0) this.m.fail(key, `must be a positive integer, got ${n}`);
    return n;
  }

  float(key: string, fallback: number): number {
    const x = this.m.float(key, 'a positive float') ?? fallback;
    if (!(x > 0) || !Number.isFinite(x)) this.m.fail(key, `must be a positive float, got ${x}`);
    return x;
  }

  /** A token id, or null; an id outside the vocabulary is an error. */
  tokenId(key: string, vocab: number): number | null {
    const n = this.m.int(key);
    if (n !== null && (n < 0 || n >= vocab)) this.m.fail(key, `is ${n}, not a token id in 0 .. ${vocab - 1}`);
    return n;
  }
}

function configFromMetadata(file: string, arch: string, md: Map<string, GgufValue>, tensors: Map<string, { dims: number[] }>): Record<string, unknown> {
  const k = (name: string) => `${arch}.${name}`;
  const h = new Hyperparameters(new GgufMetadata(md, file), arch);
  const embd = tensors.get('token_embd.weight');
  if (!embd) throw new TensorError(file, 'token_embd.weight', 'is missing; every model has token embeddings');
  const tokens = md.get('tokenizer.ggml.tokens');
  const vocab = md.has(k('vocab_size')) ? h.int(k('vocab_size')) : tokens?.type === 'array' ? tokens.value.length : embd.dims[0]!;
  const hidden = h.int(k('embedding_length'));
  const heads = h.int(k('attention.head_count'));
  const kvHeads = h.int(k('attention.head_count_kv'), heads);
  if (heads % kvHeads !== 0) {
    throw new FormatError(file, `has ${k('attention.head_count')} ${heads}, not a multiple of ${k('attention.head_count_kv')} ${kvHeads}: each key/value head serves a whole group of query heads`);
  }
  if (!md.has(k('attention.key_length')) && hidden % heads !== 0) {
    throw new FormatError(file, `has ${k('embedding_length')} ${hidden}, not a multiple of ${k('attention.head_count')} ${heads}, and no ${k('attention.key_length')} to say how wide a head is`);
  }
  const headDim = h.int(k('attention.key_length'), hidden / heads);
  const valueLength = h.int(k('attention.value_length'), headDim);
  if (valueLength !== headDim) {
    throw new FormatError(file, `has ${k('attention.value_length')} ${valueLength} different from ${k('attention.key_length')} ${headDim}; tabtune's attention needs equal key and value widths`);
  }
  const ropeDims = h.int(k('rope.dimension_count'), headDim);
  if (ropeDims !== headDim) {
    throw new FormatError(file, `has ${k('rope.dimension_count')} ${ropeDims}, but heads are ${headDim} wide; partial rotary embeddings are not supported`);
  }
  const scaling = md.get(k('rope.scaling.type'));
  let ropeScaling: Record<string, unknown> | null = null;
  if (scaling?.type === 'string' && scaling.value === 'linear') {
    ropeScaling = { rope_type: 'linear', factor: h.float(k('rope.scaling.factor'), 1) };
  } else if (scaling && !(scaling.type === 'string' && scaling.value === 'none')) {
    throw new FormatError(file, `has ${k('rope.scaling.type')} ${JSON.stringify(scaling.value)}; tabtune supports no RoPE scaling, linear, or Llama 3's (rope_freqs), not YaRN context extension`);
  }
  const eos = [h.tokenId('tokenizer.ggml.eos_token_id', vocab), h.tokenId('tokenizer.ggml.eot_token_id', vocab)].filter((t) => t !== null);
  const layers = h.int(k('block_count'));
  // What llama.cpp's gemma3 graph fixes rather than reads: every 6th layer global, the local layers'
  // RoPE base 10000, and attention scaled by 1/sqrt(head_dim) (27B, 62 layers: by hidden/heads).
  const gemma3 =
    arch === 'gemma3'
      ? {
          sliding_window: h.int(k('attention.sliding_window'), 4096),
          sliding_window_pattern: h.int(k('attention.sliding_window_pattern'), 6),
          rope_local_base_freq: 10000,
          query_pre_attn_scalar: layers === 62 ? hidden / heads : headDim,
          hidden_activation: 'gelu_pytorch_tanh',
        }
      : {};
  return {
    architectures: [ARCHITECTURES[arch]!.hf],
    model_type: ARCHITECTURES[arch]!.modelType,
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: h.int(k('feed_forward_length')),
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    rms_norm_eps: h.float(k('attention.layer_norm_rms_epsilon'), 1e-6),
    rope_theta: h.float(k('rope.freq_base'), arch === 'gemma3' ? 1_000_000 : 10000),
    ...(ropeScaling ? { rope_scaling: ropeScaling } : {}),
    max_position_embeddings: h.int(k('context_length'), 2048),
    tie_word_embeddings: !tensors.has('output.weight'),
    attention_bias: arch === 'llama' && tensors.has('blk.0.attn_q.bias'),
    bos_token_id: h.tokenId('tokenizer.ggml.bos_token_id', vocab),
    eos_token_id: [...new Set(eos)],
    torch_dtype: 'bfloat16',
    ...gemma3,
  };
}

/** The tensors under transformers' names; llama's q/k (weights and biases) read back un-permuted. */
export function ggufCheckpoint(model: GgufModel): Checkpoint {
  const { source, header, architecture, config } = model;
  const file = source.name;
  const tensors = new Map<string, CheckpointTensor>();
  let totalBytes = 0;
  for (const t of header.tensors) {
    if (t.name === ROPE_FREQS) continue;
    const name = hfName(t.name, architecture);
    if (!name) {
      throw new TensorError(file, t.name, `is not a tensor of a ${architecture} model as tabtune knows it (token_embd, output_norm, output, rope_freqs, blk.N.attn_*/ffn_*); the file holds another architecture's weights`);
    }
    const ct: CheckpointTensor = { name, fileName: t.name, dtype: t.type, shape: t.dims, file, source, info: { byteOffset: t.offset, byteLength: t.size } };
    if (architecture === 'llama') {
      if (/\.self_attn\.q_proj\./.test(name)) ct.rotaryHeads = config.num_attention_heads as number;
      if (/\.self_attn\.k_proj\./.test(name)) ct.rotaryHeads = config.num_key_value_heads as number;
    }
    // llama.cpp's converter stores Gemma's norm weights as 1 + w (its RMSNorm multiplies by w).
    if (architecture === 'gemma3' && /norm\.weight$/.test(name)) ct.valueOffset = -1;
    tensors.set(name, ct);
    totalBytes += t.size;
  }
  return { files: [file], tensors, totalBytes };
}

const ggufNames = (arch: string) =>
  new Map([...Object.entries(GLOBAL_TENSORS), ...Object.entries(layerTensors(arch))].map(([g, hf]) => [hf, g] as const));
const GGUF_NAMES = new Map(Object.keys(ARCHITECTURES).map((a) => [a, ggufNames(a)]));

/** llama.cpp's name of a transformers tensor ("model.layers.0.mlp.up_proj.weight" -> "blk.0.ffn_up.weight"). */
export function ggufTensorName(hf: string, arch = 'llama'): string | null {
  const names = GGUF_NAMES.get(arch) ?? GGUF_NAMES.get('llama')!;
  const global = names.get(hf);
  if (global) return global;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hf);
  const module = m && names.get(m[2]!);
  return module ? `blk.${m[1]}.${module}.${m[3]}` : null;
}

/** transformers' name of a GGUF tensor in a model of `arch`, or null for one tabtune does not know. */
export function hfName(ggufName: string, arch = 'llama'): string | null {
  const global = GLOBAL_TENSORS[ggufName];
  if (global) return global;
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(ggufName);
  const module = m && layerTensors(arch)[m[2]!];
  return module ? `model.layers.${m[1]}.${module}.${m[3]}` : null;
}

const JSON_FILES = new Set(['config.json', 'tokenizer.json', 'tokenizer_config.json']);

/**
 * A GGUF model as a model folder: config.json from the metadata; tokenizer.json and
 * tokenizer_config.json from `beside` (the folder the file sits in) when it has them, else from the
 * metadata; other files from `beside`. `gguf` marks it for openCheckpoint and readModelConfig.
 */
export function ggufModelFiles(source: ByteSource | { name: string; open: () => Promise<ByteSource> }, beside: ModelFiles | null = null): ModelFiles {
  // Opened once: the header is read and checked once per file, whatever asks first.
  const open = once('open' in source ? source.open : () => Promise.resolve(source));
  // The two tokenizer files are made once, together: converting a large vocabulary takes seconds.
  const tokenizer = once(async () => {
    const src = await open();
    return tokenizerFilesFromGguf((await openGgufModel(src)).header.metadata, src.name);
  });
  const make = async (file: string): Promise<Uint8Array> => {
    if (file === 'config.json') return json((await openGgufModel(await open())).config);
    const tok = await tokenizer();
    return json(file === 'tokenizer.json' ? tok.tokenizerJson : tok.tokenizerConfig);
  };
  return {
    name: source.name,
    gguf: open,
    async get(file) {
      if (file !== 'config.json') {
        const real = beside ? await beside.get(file) : null;
        if (real) return real;
      }
      if (!JSON_FILES.has(file)) return null;
      // A tokenizer.json beside a file that has no tokenizer of its own: no tokenizer_config.json,
      // as in a folder holding only tokenizer.json, rather than one made from absent metadata.
      if (file === 'tokenizer_config.json' && beside && (await beside.get('tokenizer.json'))) {
        if (!(await openGgufModel(await open())).header.metadata.has('tokenizer.ggml.model')) return null;
      }
      return bytesSource(`${source.name} (${file} made from its metadata)`, await make(file));
    },
  };
}

const json = (obj: unknown) => new TextEncoder().encode(JSON.stringify(obj));
