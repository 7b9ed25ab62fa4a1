// Parses a Hugging Face `config.json` into the one config shape the engine uses.
// Dimension key: V = vocab, H = hidden, I = intermediate (MLP), L = layers,
// nH = query heads, nKV = key/value heads, D = head dim.

import { FormatError } from '../formats/errors.ts';

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
}

const ARCHITECTURES: Record<string, Architecture> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
};

export const SUPPORTED_ARCHITECTURES = Object.keys(ARCHITECTURES);

type Json = Record<string, unknown>;

function int(file: string, obj: Json, key: string, fallback?: number): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new FormatError(file, `field "${key}" is missing; a causal LM config needs it`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new FormatError(file, `field "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function num(file: string, obj: Json, key: string, fallback: number): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new FormatError(file, `field "${key}" must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function bool(file: string, obj: Json, key: string, fallback: boolean): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new FormatError(file, `field "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function ropeScalingOf(file: string, raw: unknown): RopeScaling {
  if (raw === undefined || raw === null) return { type: 'default' };
  if (typeof raw !== 'object') throw new FormatError(file, `field "rope_scaling" must be an object`);
  const r = raw as Json;
  const type = (r.rope_type ?? r.type ?? 'default') as string;
  if (type === 'default') return { type: 'default' };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: num(file, r, 'factor', 8),
      lowFreqFactor: num(file, r, 'low_freq_factor', 1),
      highFreqFactor: num(file, r, 'high_freq_factor', 4),
      originalMaxPositionEmbeddings: int(file, r, 'original_max_position_embeddings', 8192),
    };
  }
  throw new FormatError(
    file,
    `rope_scaling type "${type}" is not supported (supported: default, llama3)`,
  );
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
  const archs = obj.architectures;
  const hfArchitecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : '';
  const architecture = ARCHITECTURES[hfArchitecture];
  if (!architecture) {
    throw new FormatError(
      file,
      `field "architectures" is ${JSON.stringify(archs)}; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`,
    );
  }
  const hiddenSize = int(file, obj, 'hidden_size');
  const numHeads = int(file, obj, 'num_attention_heads');
  const numKvHeads = int(file, obj, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new FormatError(file, `num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const headDim = int(file, obj, 'head_dim', Math.floor(hiddenSize / numHeads));
  if (headDim % 2 !== 0) throw new FormatError(file, `head_dim (${headDim}) must be even for rotary embeddings`);

  // Newer files nest rope settings under rope_parameters.
  const ropeParams = (obj.rope_parameters ?? null) as Json | null;
  const ropeTheta = num(file, ropeParams ?? obj, 'rope_theta', num(file, obj, 'rope_theta', 10000));
  const ropeScaling = ropeScalingOf(file, obj.rope_scaling ?? ropeParams ?? undefined);

  const attentionBias = bool(file, obj, 'attention_bias', false);
  const eos = obj.eos_token_id;
  const eosTokenIds = Array.isArray(eos) ? eos.filter((x): x is number => typeof x === 'number') : typeof eos === 'number' ? [eos] : [];
  const useSliding = bool(file, obj, 'use_sliding_window', architecture === 'mistral');
  const sw = obj.sliding_window;
  const slidingWindow = useSliding && typeof sw === 'number' && sw > 0 ? sw : null;

  return {
    architecture,
    hfArchitecture,
    vocabSize: int(file, obj, 'vocab_size'),
    hiddenSize,
    intermediateSize: int(file, obj, 'intermediate_size'),
    numLayers: int(file, obj, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(file, obj, 'rms_norm_eps', 1e-6),
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
    bosTokenId: typeof obj.bos_token_id === 'number' ? obj.bos_token_id : null,
    eosTokenIds,
  };
}
