// Makes small, deterministic Hugging Face model folders (config, tokenizer, safetensors) for tests,
// benchmarks and the demo. Pure TS with no Node imports so it runs in a browser too.
// Dimension key: V = vocab, H = hidden, I = intermediate (MLP), nH = query heads,
// nKV = key/value heads, D = head dim.

import { fromFloat32 } from '../formats/dtype.ts';
import { writeSafetensors, type TensorToWrite } from '../formats/safetensors-write.ts';
import { seededRandom } from '../util/random.ts';
import { learnMerges } from './bpe-merges.ts';
import { gemma3ConfigJson, gemma3TensorSpecs, multimodalName, visionTensorSpecs } from './test-model-gemma3.ts';

export interface TestModelOptions {
  architecture: 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma3';
  seed?: number;
  dtype?: 'F32' | 'F16' | 'BF16';
  hiddenSize?: number;
  intermediateSize?: number;
  numLayers?: number;
  numHeads?: number;
  numKvHeads?: number;
  /** Defaults to hidden / heads; may differ from it (Qwen3 and Llama allow that). */
  headDim?: number;
  /** Defaults to the tokenizer's size rounded up to a multiple of 4. */
  vocabSize?: number;
  /** Tie the LM head to the embeddings (default false; gemma3: true, as Gemma3TextConfig). */
  tied?: boolean;
  /** >1 writes model-0000k-of-0000n.safetensors + model.safetensors.index.json. */
  shards?: number;
  /** llama3: Llama 3's; linear: factor 8 (gemma3: on the full-attention layers, as Gemma 3 4B+). */
  ropeScaling?: 'llama3' | 'linear';
  /** Write the newer `rope_parameters: {rope_theta, rope_type, ...}` form (and `dtype`); gemma3: per layer type, with layer_types. */
  ropeParameters?: boolean;
  ropeTheta?: number;
  attentionBias?: boolean;
  mlpBias?: boolean;
  /** Mistral / Qwen2: every layer's window. gemma3: the sliding layers' window (default 4). */
  slidingWindow?: number;
  maxPositionEmbeddings?: number;
  /** gemma3: layer i slides iff (i + 1) % pattern != 0 (default 6), written as sliding_window_pattern (transformers 4.50). */
  slidingWindowPattern?: number;
  /** gemma3: write layer_types and _sliding_window_pattern, as transformers 4.55 does. */
  layerTypes?: boolean;
  /** gemma3: query_pre_attn_scalar (default 16, unlike the head dim, so the attention scale matters). */
  queryPreAttnScalar?: number;
  /** gemma3: attn_logit_softcapping / final_logit_softcapping (default null, as Gemma 3 ships). */
  attnLogitSoftcap?: number;
  finalLogitSoftcap?: number;
  /** gemma3: rope_local_base_freq, the sliding layers' RoPE base (default 10000; ropeTheta defaults to 1e6). */
  ropeLocalTheta?: number;
  /**
   * gemma3: a Gemma3ForConditionalGeneration folder (text_config nested, a few vision tensors), with
   * the text weights named as transformers < 4.52 saved them ('old': language_model.model.*) or later
   * ('new': model.language_model.*). Values equal the plain model's of the same options.
   */
  multimodal?: 'old' | 'new';
  /** Train the byte-level BPE tokenizer on this text instead of the built-in sample (with `merges` merges). */
  corpus?: string;
  merges?: number;
  /** 'test' (default): values spread so tests see every weight matter; 'pretrain': transformers' init for a model about to be trained (N(0, 0.02) matrices, unit norms, zero biases). */
  init?: 'test' | 'pretrain';
}

const HF_ARCH = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  gemma3: 'Gemma3ForCausalLM',
} as const;

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness. Each tensor gets its own stream seeded from (seed, name), so options
// that add or drop tensors (bias, tying) leave every other tensor bit-identical.

function fnv1a(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export type Init = { kind: 'uniform'; scale: number; center?: number } | { kind: 'normal'; std: number };

function randomValues(seed: number, name: string, n: number, init: Init): Float32Array {
  const rand = seededRandom(fnv1a(name, seed));
  const out = new Float32Array(n);
  if (init.kind === 'uniform') {
    const c = init.center ?? 0;
    for (let i = 0; i < n; i++) out[i] = c + init.scale * (2 * rand() - 1);
  } else {
    for (let i = 0; i < n; i++) {
      // Box-Muller; 1 - u keeps log() away from 0.
      const u = 1 - rand();
      const v = rand();
      out[i] = init.std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer: a real byte-level BPE in Hugging Face's tokenizer.json format, trained here on a
// small built-in English text so that English takes fewer tokens than bytes.

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;
const BOS = '<|im_start|>';
const EOS = '<|im_end|>';
const PAD = '<|endoftext|>';
const NUM_MERGES = 160;

// The pre-tokenizer regex of GPT-2 (and of ByteLevel with use_regex), so training sees the same
// words the tokenizer will.
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const SAMPLE_TEXT = `The small model learns to read and write the language of the text it is given.
In the morning the students walked to the station, and they talked about the weather, the
trains, and the things they wanted to learn. There is a garden behind the house where the old
tree stands; in the summer its shade is cool and the children play there until the evening.
When you train a model on your own computer, you can watch the loss fall as it learns. It is
important to keep the learning rate small, to save a checkpoint often, and to test the result
on examples that the model has not seen before. The question is not whether it will learn, but
what it will learn from the data that you give it.
Once upon a time there was a little fox who lived in the forest. Every day the fox went out to
find something to eat, and every evening it came back to the same place under the stones. One
day it met a rabbit, and the two of them became friends. They shared their food, they told each
other stories, and they were happy together for a long time.
Hello! How are you today? I am fine, thank you. What would you like to do this afternoon? We
could go for a walk, read a book, or cook something nice for dinner. The weather is warm and
the sun is shining, so it would be a good day to be outside with the people we love.
Numbers like 1, 2, 3, 10, 100 and 2024 appear in text as well, and so do names such as
London, Paris and Tokyo.`;

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
function bytesToUnicode(): string[] {
  const map: string[] = new Array<string>(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(printable(b) ? b : 256 + n++);
  return map;
}

interface TrainedBpe {
  vocab: Map<string, number>;
  merges: string[];
  size: number;
}

function trainBpe(text: string, numMerges: number): TrainedBpe {
  const byteChar = bytesToUnicode();
  const enc = new TextEncoder();
  // A Map, so that a merged token spelled like an Object.prototype member stays a plain key.
  const vocab = new Map<string, number>();
  for (const t of SPECIAL_TOKENS) vocab.set(t, vocab.size);
  for (let b = 0; b < 256; b++) vocab.set(byteChar[b]!, vocab.size);

  const freq = new Map<string, number>();
  for (const w of text.match(GPT2_SPLIT) ?? []) freq.set(w, (freq.get(w) ?? 0) + 1);
  const words = [...freq].map(([w, count]) => ({ syms: Array.from(enc.encode(w), (b) => byteChar[b]!), count }));

  // A pair seen once teaches nothing.
  const merges = learnMerges(words, vocab, numMerges, 2);
  return { vocab, merges, size: vocab.size };
}

const trained = new Map<string, TrainedBpe>();
function tokenizerModel(o: Pick<TestModelOptions, 'corpus' | 'merges'> = {}): TrainedBpe {
  const text = o.corpus ?? SAMPLE_TEXT;
  const merges = o.merges ?? NUM_MERGES;
  const key = `${merges}:${text.length}:${text.slice(0, 64)}`;
  let t = trained.get(key);
  if (!t) {
    t = trainBpe(text, merges);
    trained.set(key, t);
  }
  return t;
}

/** Number of ids the test tokenizer uses (specials + bytes + merges). */
export function testTokenizerSize(o: Pick<TestModelOptions, 'corpus' | 'merges'> = {}): number {
  return tokenizerModel(o).size;
}

const CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

function addedToken(content: string, id: number) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function tokenizerJson(tok: TrainedBpe): unknown {
  const { vocab, merges } = tok;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((t) => addedToken(t, vocab.get(t)!)),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
}

function tokenizerConfigJson(tok: TrainedBpe, maxLength: number): unknown {
  const { vocab } = tok;
  const decoder: Record<string, unknown> = {};
  for (const t of SPECIAL_TOKENS) {
    const { id, ...rest } = addedToken(t, vocab.get(t)!);
    decoder[String(id)] = rest;
  }
  return {
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: [BOS, EOS],
    bos_token: BOS,
    chat_template: CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: EOS,
    model_max_length: maxLength,
    pad_token: PAD,
    tokenizer_class: 'GPT2Tokenizer',
    unk_token: PAD,
  };
}

// ---------------------------------------------------------------------------------------------
// config.json as transformers writes it for each architecture.

export interface Dims {
  V: number;
  H: number;
  I: number;
  L: number;
  nH: number;
  nKV: number;
  D: number;
}

function configJson(o: TestModelOptions, d: Dims): Record<string, unknown> {
  const arch = o.architecture;
  const { vocab } = tokenizerModel(o);
  if (arch === 'gemma3') return gemma3ConfigJson(o, d, { bos: vocab.get(BOS)!, eos: vocab.get(EOS)!, pad: vocab.get(PAD)! });
  const qwen = arch === 'qwen2' || arch === 'qwen3';
  const ropeTheta = o.ropeTheta ?? 10000;
  const maxPos = o.maxPositionEmbeddings ?? 256;
  const llama3 =
    o.ropeScaling === 'llama3'
      ? // A small original context so the scaling changes some frequencies at test head dims.
        { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16, rope_type: 'llama3' }
      : o.ropeScaling === 'linear'
        ? { factor: 8, rope_type: 'linear' }
        : null;
  const c: Record<string, unknown> = {
    architectures: [HF_ARCH[arch]],
    attention_dropout: 0,
    bos_token_id: vocab.get(BOS),
    eos_token_id: vocab.get(EOS),
    hidden_act: 'silu',
    hidden_size: d.H,
    initializer_range: 0.02,
    intermediate_size: d.I,
    max_position_embeddings: maxPos,
    model_type: arch,
    num_attention_heads: d.nH,
    num_hidden_layers: d.L,
    num_key_value_heads: d.nKV,
    rms_norm_eps: qwen ? 1e-6 : 1e-5,
  };
  // Qwen2's config has no head_dim field; newer transformers read one when present.
  if (arch !== 'qwen2' || d.D !== d.H / d.nH) c.head_dim = d.D;
  if (arch === 'llama' || arch === 'qwen3') c.attention_bias = o.attentionBias ?? false;
  if (arch === 'llama') {
    c.mlp_bias = o.mlpBias ?? false;
    c.pretraining_tp = 1;
  }
  if (arch === 'mistral') c.sliding_window = o.slidingWindow ?? null;
  if (qwen) {
    // max_window_layers = 0 makes every layer slide, which is what the engine implements.
    c.use_sliding_window = o.slidingWindow !== undefined;
    c.sliding_window = o.slidingWindow ?? (arch === 'qwen2' ? maxPos : null);
    c.max_window_layers = o.slidingWindow !== undefined ? 0 : d.L;
  }
  if (o.ropeParameters) {
    const base: Record<string, unknown> = { rope_theta: ropeTheta, rope_type: 'default' };
    c.rope_parameters = { ...base, ...(llama3 ?? {}) };
  } else {
    c.rope_scaling = llama3;
    c.rope_theta = ropeTheta;
  }
  c.tie_word_embeddings = o.tied ?? false;
  c[o.ropeParameters ? 'dtype' : 'torch_dtype'] = TORCH_DTYPE[o.dtype ?? 'F32'];
  c.transformers_version = o.ropeParameters ? '5.0.0' : '4.51.0';
  c.use_cache = true;
  c.vocab_size = d.V;
  return c;
}

// ---------------------------------------------------------------------------------------------
// Tensors with Hugging Face names and shapes ([out, in] for linear weights).

export interface TensorSpec {
  name: string;
  shape: number[];
  init: Init;
}

function tensorSpecs(o: TestModelOptions, d: Dims): TensorSpec[] {
  const arch = o.architecture;
  const qkvBias = arch === 'qwen2' || (o.attentionBias ?? false);
  const oBias = arch !== 'qwen2' && (o.attentionBias ?? false);
  const mlpBias = o.mlpBias ?? false;
  // Uniform +-1/sqrt(fan_in) keeps each linear's output O(1) for O(1) inputs.
  const linear = (name: string, out: number, inp: number): TensorSpec => ({
    name: `${name}.weight`,
    shape: [out, inp],
    init: { kind: 'uniform', scale: 1 / Math.sqrt(inp) },
  });
  const bias = (name: string, out: number): TensorSpec => ({ name: `${name}.bias`, shape: [out], init: { kind: 'uniform', scale: 0.1 } });
  // Norm weights near but not at 1, so a kernel that ignores them fails.
  const norm = (name: string, n: number): TensorSpec => ({ name: `${name}.weight`, shape: [n], init: { kind: 'uniform', scale: 0.1, center: 1 } });
  if (arch === 'gemma3') return gemma3TensorSpecs(o, d, linear);

  const specs: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [d.V, d.H], init: { kind: 'normal', std: 0.5 } }];
  for (let l = 0; l < d.L; l++) {
    const p = `model.layers.${l}`;
    const attn = `${p}.self_attn`;
    const mlp = `${p}.mlp`;
    specs.push(norm(`${p}.input_layernorm`, d.H));
    for (const [m, out] of [
      ['q_proj', d.nH * d.D],
      ['k_proj', d.nKV * d.D],
      ['v_proj', d.nKV * d.D],
    ] as const) {
      specs.push(linear(`${attn}.${m}`, out, d.H));
      if (qkvBias) specs.push(bias(`${attn}.${m}`, out));
    }
    specs.push(linear(`${attn}.o_proj`, d.H, d.nH * d.D));
    if (oBias) specs.push(bias(`${attn}.o_proj`, d.H));
    if (arch === 'qwen3') specs.push(norm(`${attn}.q_norm`, d.D), norm(`${attn}.k_norm`, d.D));
    specs.push(norm(`${p}.post_attention_layernorm`, d.H));
    for (const [m, out, inp] of [
      ['gate_proj', d.I, d.H],
      ['up_proj', d.I, d.H],
      ['down_proj', d.H, d.I],
    ] as const) {
      specs.push(linear(`${mlp}.${m}`, out, inp));
      if (mlpBias) specs.push(bias(`${mlp}.${m}`, out));
    }
  }
  specs.push(norm('model.norm', d.H));
  if (!(o.tied ?? false)) specs.push(linear('lm_head', d.V, d.H));
  return specs;
}

function checkOptions(o: TestModelOptions, d: Dims): void {
  const bad = (msg: string): never => {
    throw new Error(`makeTestModel(${o.architecture}): ${msg}`);
  };
  for (const [k, v] of Object.entries(d)) if (!Number.isInteger(v) || v <= 0) bad(`${k} must be a positive integer, got ${v}`);
  if (d.nH % d.nKV !== 0) bad(`numHeads (${d.nH}) must be a multiple of numKvHeads (${d.nKV})`);
  if (d.D % 2 !== 0) bad(`headDim (${d.D}) must be even for rotary embeddings`);
  if (d.V < testTokenizerSize(o)) bad(`vocabSize (${d.V}) is smaller than the tokenizer (${testTokenizerSize(o)} ids)`);
  if (o.architecture === 'mistral' && o.attentionBias) bad('transformers has no attention_bias for Mistral');
  if (o.architecture !== 'llama' && o.mlpBias) bad('only Llama has mlp_bias in transformers');
  if (o.architecture === 'llama' && o.slidingWindow !== undefined) bad('Llama has no sliding window in transformers');
  const gemmaOnly = ['slidingWindowPattern', 'layerTypes', 'queryPreAttnScalar', 'attnLogitSoftcap', 'finalLogitSoftcap', 'ropeLocalTheta', 'multimodal'] as const;
  for (const k of gemmaOnly) if (o.architecture !== 'gemma3' && o[k] !== undefined) bad(`${k} is a Gemma 3 option`);
  if (o.architecture === 'gemma3' && o.ropeScaling === 'llama3') bad('the test model writes llama3 rope scaling for Llama-family models only');
  if (o.architecture === 'gemma3' && o.mlpBias) bad('Gemma 3 has no mlp_bias in transformers');
  const shards = o.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1) bad(`shards must be a positive integer, got ${shards}`);
}

function shardName(k: number, n: number): string {
  const pad = (x: number) => String(x).padStart(5, '0');
  return `model-${pad(k)}-of-${pad(n)}.safetensors`;
}

/** file name -> bytes: config.json, tokenizer.json, tokenizer_config.json, model.safetensors (or shards + index). */
export function makeTestModel(o: TestModelOptions): Map<string, Uint8Array> {
  const H = o.hiddenSize ?? 32;
  const nH = o.numHeads ?? 4;
  const d: Dims = {
    V: o.vocabSize ?? Math.ceil(testTokenizerSize(o) / 4) * 4,
    H,
    I: o.intermediateSize ?? 64,
    L: o.numLayers ?? 2,
    nH,
    nKV: o.numKvHeads ?? 2,
    D: o.headDim ?? Math.floor(H / nH),
  };
  checkOptions(o, d);
  const seed = o.seed ?? 1;
  const dtype = o.dtype ?? 'F32';

  const specs = tensorSpecs(o, d).map((s): typeof s =>
    o.init !== 'pretrain'
      ? s
      : // Gemma's norms are offsets from 1: their "unit" value is 0.
        { ...s, init: s.shape.length === 2 ? { kind: 'normal', std: 0.02 } : { kind: 'uniform', scale: 0, center: s.name.endsWith('.bias') || o.architecture === 'gemma3' ? 0 : 1 } },
  );
  const tensors: TensorToWrite[] = specs.map((s) => {
    const values = randomValues(seed, s.name, s.shape.reduce((a, b) => a * b, 1), s.init);
    // A multimodal folder stores the same values under its own names.
    const name = o.multimodal ? multimodalName(s.name, o.multimodal) : s.name;
    return { name, dtype, shape: s.shape, data: fromFloat32(dtype, values) };
  });
  if (o.multimodal) {
    for (const s of visionTensorSpecs(o.multimodal)) {
      tensors.push({ name: s.name, dtype, shape: s.shape, data: fromFloat32(dtype, randomValues(seed, s.name, s.shape.reduce((a, b) => a * b, 1), s.init)) });
    }
  }

  const enc = new TextEncoder();
  const json = (v: unknown) => enc.encode(JSON.stringify(v, null, 2) + '\n');
  const files = new Map<string, Uint8Array>();
  files.set('config.json', json(configJson(o, d)));
  files.set('tokenizer.json', json(tokenizerJson(tokenizerModel(o))));
  files.set('tokenizer_config.json', json(tokenizerConfigJson(tokenizerModel(o), o.maxPositionEmbeddings ?? 256)));

  const shards = Math.min(o.shards ?? 1, tensors.length);
  if (shards === 1) {
    files.set('model.safetensors', writeSafetensors(tensors));
    return files;
  }
  // Contiguous groups of roughly equal bytes, in parameter order, as save_pretrained does;
  // every shard gets at least one tensor.
  const total = tensors.reduce((a, t) => a + t.data.byteLength, 0);
  const groups: TensorToWrite[][] = [[]];
  let bytes = 0;
  tensors.forEach((t, i) => {
    const toOpen = shards - groups.length;
    const left = tensors.length - i;
    if (groups.at(-1)!.length > 0 && toOpen > 0 && (bytes >= total / shards || left <= toOpen)) {
      groups.push([]);
      bytes = 0;
    }
    groups.at(-1)!.push(t);
    bytes += t.data.byteLength;
  });
  const weightMap: Record<string, string> = {};
  groups.forEach((g, k) => {
    const name = shardName(k + 1, shards);
    files.set(name, writeSafetensors(g));
    for (const t of g) weightMap[t.name] = name;
  });
  const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  files.set('model.safetensors.index.json', json({ metadata: { total_size: total }, weight_map: sorted }));
  return files;
}

