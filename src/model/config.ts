// Parses a Hugging Face `config.json` into the one config shape the engine uses.
// Dimension key: V = vocab, H = hidden, I = intermediate (MLP), L = layers,
// nH = query heads, nKV = key/value heads, D = head dim.

import { readText, type ModelFiles } from '../formats/byte-source.ts';
import { FormatError } from '../formats/errors.ts';
import { openGgufModel } from '../formats/gguf-model.ts';

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'qwen3';

/** Frequency scaling applied to RoPE's inverse frequencies. */
export type RopeScaling =
  | { type: 'default' }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export interface ModelConfig {
  architecture: Architecture;
  /** As written in config.json, e.g. "LlamaForCausalLM". */
  hfArchitecture: string;
  vocabSize: number; // V
  hiddenSize: number; // H
  intermediateSize: number; // I
  numLayers: number; // L
  numHeads: number; // nH
  numKvHeads: number; // nKV
  headDim: number; // D
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2 always; Llama when attention_bias). */
  qkvBias: boolean;
  /** o_proj carries a bias (all but Qwen2 when attention_bias). */
  oBias: boolean;
  /** gate/up/down carry a bias (Llama when mlp_bias). */
  mlpBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  /** Keys further back than this many positions are not attended; null = full causal. */
  slidingWindow: number | null;
  maxPositionEmbeddings: number;
  torchDtype: string | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /**
   * Divisors of RoPE's inverse frequencies, one per rotary pair [D/2], as a GGUF's rope_freqs.weight
   * holds them (llama.cpp's form of Llama 3 scaling); when set they replace `ropeScaling`.
   */
  ropeFreqFactors?: number[];
  /** Set when the config was made from a GGUF file's metadata: its general.architecture (messages name its keys). */
  ggufArchitecture?: string;
}

const ARCHITECTURES: Record<string, Architecture> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
};

export const SUPPORTED_ARCHITECTURES = Object.keys(ARCHITECTURES);

type Json = Record<string, unknown>;

function int(file: string, obj: Json, key: string, fallback?: number, label = `"${key}"`): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new FormatError(file, `field ${label} is missing; a causal LM config needs it`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new FormatError(file, `field ${label} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function num(file: string, obj: Json, key: string, fallback: number, positive = false, label = `"${key}"`): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new FormatError(file, `field ${label} must be a number, got ${JSON.stringify(v)}`);
  }
  if (positive && !(v > 0)) throw new FormatError(file, `field ${label} must be a positive number, got ${v}`);
  return v;
}

/** A token id field: null, an integer, or (eos) a list of integers, each inside the vocabulary. */
function tokenIds(file: string, obj: Json, key: string, vocab: number, list: boolean): number[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  const ids = list && Array.isArray(v) ? (v as unknown[]) : [v];
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new FormatError(file, `field "${key}" must be a token id (an integer >= 0)${list ? ' or a list of them' : ''}, got ${JSON.stringify(v)}`);
    }
    if (id >= vocab) throw new FormatError(file, `field "${key}" is ${id}, outside the vocabulary (vocab_size ${vocab}: ids 0 .. ${vocab - 1})`);
  }
  return ids as number[];
}

function bool(file: string, obj: Json, key: string, fallback: boolean): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new FormatError(file, `field "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function ropeScalingOf(file: string, raw: unknown): RopeScaling {
  if (raw === undefined || raw === null) return { type: 'default' };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new FormatError(file, `field "rope_scaling" must be an object, got ${JSON.stringify(raw)}`);
  const r = raw as Json;
  const type = (r.rope_type ?? r.type ?? 'default') as string;
  if (typeof type !== 'string') throw new FormatError(file, `field "rope_scaling"."rope_type" must be a string, got ${JSON.stringify(type)}`);
  if (type === 'default') return { type: 'default' };
  if (type === 'llama3') {
    const at = (k: string) => `"rope_scaling"."${k}"`;
    const s = {
      type: 'llama3' as const,
      factor: num(file, r, 'factor', 8, true, at('factor')),
      lowFreqFactor: num(file, r, 'low_freq_factor', 1, true, at('low_freq_factor')),
      highFreqFactor: num(file, r, 'high_freq_factor', 4, true, at('high_freq_factor')),
      originalMaxPositionEmbeddings: int(file, r, 'original_max_position_embeddings', 8192, at('original_max_position_embeddings')),
    };
    // transformers' _validate_llama3_parameters
    if (s.factor < 1) throw new FormatError(file, `field "rope_scaling"."factor" must be at least 1 for llama3 scaling, got ${s.factor}`);
    if (s.highFreqFactor <= s.lowFreqFactor) {
      throw new FormatError(file, `field "rope_scaling": high_freq_factor (${s.highFreqFactor}) must be greater than low_freq_factor (${s.lowFreqFactor})`);
    }
    return s;
  }
  throw new FormatError(
    file,
    `rope_scaling type "${type}" is not supported (supported: default, llama3)`,
  );
}

/** transformers' model_type of each supported architecture. */
const MODEL_TYPES: Record<Architecture, string> = { llama: 'llama', mistral: 'mistral', qwen2: 'qwen2', qwen3: 'qwen3' };

/** The architecture from "architectures", or from "model_type" when that is all the file gives. */
function architectureOf(file: string, obj: Json): { architecture: Architecture; hfArchitecture: string } {
  const archs = obj.architectures;
  const modelType = obj.model_type;
  const supported = SUPPORTED_ARCHITECTURES.join(', ');
  if ((archs === undefined || archs === null || (Array.isArray(archs) && archs.length === 0)) && typeof modelType === 'string') {
    const hf = SUPPORTED_ARCHITECTURES.find((a) => MODEL_TYPES[ARCHITECTURES[a]!] === modelType);
    if (!hf) throw new FormatError(file, `field "model_type" is ${JSON.stringify(modelType)} and there is no "architectures"; supported: ${supported}`);
    return { architecture: ARCHITECTURES[hf]!, hfArchitecture: hf };
  }
  const hfArchitecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : '';
  const architecture = ARCHITECTURES[hfArchitecture];
  if (!architecture) {
    const what = archs === undefined ? 'missing' : `${JSON.stringify(archs)}`;
    throw new FormatError(file, `field "architectures" is ${what}; supported: ${supported}`);
  }
  if (modelType !== undefined && modelType !== null && modelType !== MODEL_TYPES[architecture]) {
    throw new FormatError(
      file,
      `field "model_type" is ${JSON.stringify(modelType)}, but "architectures" names ${hfArchitecture} (model_type "${MODEL_TYPES[architecture]}"); transformers would build a different model from this file: fix one of the two`,
    );
  }
  return { architecture, hfArchitecture };
}

/** Parses config.json text. Throws FormatError naming the file and field on anything unusable. */
export function parseModelConfig(text: string, file = 'config.json'): ModelConfig {
  let obj: Json;
  try {
    obj = JSON.parse(text) as Json;
  } catch (e) {
    throw new FormatError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new FormatError(file, 'must hold a JSON object');
  }
  const { architecture, hfArchitecture } = architectureOf(file, obj);
  const hiddenSize = int(file, obj, 'hidden_size');
  const numHeads = int(file, obj, 'num_attention_heads');
  const numKvHeads = int(file, obj, 'num_key_value_heads', numHeads);
  if (numKvHeads > numHeads || numHeads % numKvHeads !== 0) {
    throw new FormatError(file, `num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads}): each key/value head serves a whole group of query heads`);
  }
  if ((obj.head_dim === undefined || obj.head_dim === null) && hiddenSize % numHeads !== 0) {
    throw new FormatError(file, `hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads}), and there is no "head_dim" to say how wide a head is`);
  }
  const headDim = int(file, obj, 'head_dim', Math.floor(hiddenSize / numHeads));
  if (headDim % 2 !== 0) throw new FormatError(file, `head_dim (${headDim}) must be even for rotary embeddings`);
  const vocabSize = int(file, obj, 'vocab_size');

  // Newer files nest rope settings under rope_parameters.
  const rp = obj.rope_parameters;
  if (rp !== undefined && rp !== null && (typeof rp !== 'object' || Array.isArray(rp))) {
    throw new FormatError(file, `field "rope_parameters" must be an object, got ${JSON.stringify(rp)}`);
  }
  const ropeParams = (rp ?? null) as Json | null;
  const ropeTheta = num(file, ropeParams ?? obj, 'rope_theta', num(file, obj, 'rope_theta', 10000, true), true);
  const ropeScaling = ropeScalingOf(file, obj.rope_scaling ?? ropeParams ?? undefined);

  const attentionBias = bool(file, obj, 'attention_bias', false);
  const eosTokenIds = tokenIds(file, obj, 'eos_token_id', vocabSize, true);
  const bos = tokenIds(file, obj, 'bos_token_id', vocabSize, true);
  const useSliding = bool(file, obj, 'use_sliding_window', architecture === 'mistral');
  const sw = obj.sliding_window;
  if (useSliding && sw !== undefined && sw !== null && !(typeof sw === 'number' && Number.isInteger(sw) && sw > 0)) {
    throw new FormatError(file, `field "sliding_window" must be a positive integer (or null for full attention), got ${JSON.stringify(sw)}`);
  }
  const slidingWindow = useSliding && typeof sw === 'number' ? sw : null;

  return {
    architecture,
    hfArchitecture,
    vocabSize,
    hiddenSize,
    intermediateSize: int(file, obj, 'intermediate_size'),
    numLayers: int(file, obj, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(file, obj, 'rms_norm_eps', 1e-6, true),
    ropeTheta,
    ropeScaling,
    tieWordEmbeddings: bool(file, obj, 'tie_word_embeddings', false),
    qkvBias: architecture === 'qwen2' || attentionBias,
    oBias: architecture !== 'qwen2' && attentionBias,
    mlpBias: architecture === 'llama' && bool(file, obj, 'mlp_bias', false),
    qkNorm: architecture === 'qwen3',
    slidingWindow,
    maxPositionEmbeddings: int(file, obj, 'max_position_embeddings', 2048),
    torchDtype: typeof obj.torch_dtype === 'string' ? obj.torch_dtype : typeof obj.dtype === 'string' ? obj.dtype : null,
    bosTokenId: bos[0] ?? null,
    eosTokenIds,
  };
}

/** Reads and parses a model folder's config.json; a folder without one is named, with a hint when it is an adapter. */
export async function readModelConfig(files: ModelFiles): Promise<ModelConfig> {
  if (files.gguf) {
    const m = await openGgufModel(await files.gguf());
    const cfg = parseModelConfig(JSON.stringify(m.config), `${m.source.name} (its metadata)`);
    return { ...cfg, ggufArchitecture: m.architecture, ...(m.ropeFreqFactors ? { ropeFreqFactors: m.ropeFreqFactors } : {}) };
  }
  const src = await files.get('config.json');
  if (!src) {
    const adapter = (await files.get('adapter_config.json')) !== null;
    const hint = adapter
      ? '; it holds adapter_config.json, so it is a PEFT adapter, not a model: load its base model and apply the adapter to it'
      : '; a Hugging Face model folder needs config.json, tokenizer.json and safetensors weights';
    throw new FormatError(files.name, `has no config.json${hint}`);
  }
  return parseModelConfig(await readText(src), src.name);
}
