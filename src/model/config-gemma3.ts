// Gemma 3's config.json (transformers' Gemma3TextConfig) into the engine's ModelConfig. A
// Gemma3ForCausalLM file holds the text config at the top level (model_type "gemma3_text"); a
// Gemma3ForConditionalGeneration file (model_type "gemma3") nests it under "text_config", where every
// missing field takes Gemma3TextConfig's default, as transformers builds it. The vision tower is not
// read here: only the text model runs (its weights are found by formats/checkpoint.ts's languageModelView).
// Dimension key: V = vocab, H = hidden, I = intermediate (MLP), L = layers, nH = query heads,
// nKV = key/value heads, D = head dim.

import { fromFloat32, toFloat32, type FloatDtype } from '../formats/dtype.ts';
import { FormatError } from '../formats/errors.ts';
import { bool, int, type Json, num, object, optionalPositive, ropeScalingOf, tokenIds } from './config-fields.ts';
import type { LayerAttention, ModelConfig, RopeScaling } from './config.ts';

/** Gemma3TextConfig's defaults (transformers, configuration_gemma3.py): a file may leave any of them out. */
export const GEMMA3_TEXT_DEFAULTS = {
  vocab_size: 262208,
  hidden_size: 2304,
  intermediate_size: 9216,
  num_hidden_layers: 26,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  rms_norm_eps: 1e-6,
  rope_theta: 1_000_000,
  rope_local_base_freq: 10_000,
  sliding_window: 4096,
  sliding_window_pattern: 6,
  query_pre_attn_scalar: 256,
  max_position_embeddings: 131072,
  bos_token_id: 2,
  eos_token_id: 1,
} as const;

/** The activations transformers' ACT2FN computes as 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
const GELU_TANH = new Set(['gelu_pytorch_tanh', 'gelu_new', 'gelu_fast']);

const TORCH_TO_ST: Record<string, FloatDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

/**
 * sqrt(H) as transformers multiplies the embeddings by it: `embed_scale.to(weight.dtype)`, so rounded
 * to the checkpoint's dtype (bf16: sqrt(640) = 25.25, sqrt(1152) = 34.0), f32 otherwise.
 */
export function gemmaEmbedScale(hiddenSize: number, dtype: FloatDtype): number {
  return toFloat32(dtype, fromFloat32(dtype, [Math.sqrt(hiddenSize)]))[0]!;
}

/** The dtype a config's torch_dtype names, F32 when it names none (transformers' default). */
export function configDtype(torchDtype: string | null): FloatDtype {
  return (torchDtype && TORCH_TO_ST[torchDtype]) || 'F32';
}

export function parseGemma3Config(file: string, top: Json, hfArchitecture: string): ModelConfig {
  const nested = hfArchitecture === 'Gemma3ForConditionalGeneration';
  const text = nested ? (object(file, top, 'text_config') ?? {}) : top;
  const label = (k: string) => (nested ? `"text_config"."${k}"` : `"${k}"`);
  if (nested && text.model_type !== undefined && text.model_type !== null && text.model_type !== 'gemma3_text') {
    throw new FormatError(file, `field ${label('model_type')} is ${JSON.stringify(text.model_type)}; Gemma3ForConditionalGeneration's text model is "gemma3_text"`);
  }
  const D = GEMMA3_TEXT_DEFAULTS;
  const i = (k: keyof typeof D) => int(file, text, k, D[k], label(k));

  const hiddenSize = i('hidden_size');
  const numHeads = i('num_attention_heads');
  const numKvHeads = i('num_key_value_heads');
  if (numKvHeads > numHeads || numHeads % numKvHeads !== 0) {
    throw new FormatError(file, `num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads}): each key/value head serves a whole group of query heads`);
  }
  const headDim = i('head_dim');
  if (headDim % 2 !== 0) throw new FormatError(file, `field ${label('head_dim')} (${headDim}) must be even for rotary embeddings`);
  const vocabSize = i('vocab_size');
  const numLayers = i('num_hidden_layers');

  if (bool(file, text, 'use_bidirectional_attention', false, label('use_bidirectional_attention'))) {
    throw new FormatError(file, `field ${label('use_bidirectional_attention')} is true: this is an embedding model (EmbeddingGemma) whose tokens see later ones, not a causal LM; tabtune trains causal LMs`);
  }
  const act = text.hidden_activation ?? 'gelu_pytorch_tanh';
  if (typeof act !== 'string' || !GELU_TANH.has(act)) {
    throw new FormatError(file, `field ${label('hidden_activation')} is ${JSON.stringify(act)}; supported: ${[...GELU_TANH].join(', ')} (gelu with the tanh approximation, as Gemma 3 ships)`);
  }

  const sw = text.sliding_window === undefined ? D.sliding_window : text.sliding_window;
  if (sw !== null && !(typeof sw === 'number' && Number.isInteger(sw) && sw > 0)) {
    throw new FormatError(file, `field ${label('sliding_window')} must be a positive integer (or null for full attention), got ${JSON.stringify(sw)}`);
  }
  const layerAttention = layerTypes(file, text, numLayers, label);
  const rope = ropeOf(file, text, label);

  const attentionBias = bool(file, text, 'attention_bias', false, label('attention_bias'));
  // Token ids and dtype: the outer config's when it states them (Gemma 3 4B+ keeps eos there), else the text config's.
  const idsFrom = (k: string) => (nested && top[k] !== undefined && top[k] !== null ? top : text);
  const idLabel = (k: string) => (idsFrom(k) === top ? `"${k}"` : label(k));
  // An absent id takes Gemma3TextConfig's default (bos 2, eos 1) when the vocabulary holds it; null means none.
  const ids = (k: 'bos_token_id' | 'eos_token_id') =>
    idsFrom(k)[k] === undefined ? (D[k] < vocabSize ? [D[k]] : []) : tokenIds(file, idsFrom(k), k, vocabSize, true, idLabel(k));
  const eos = ids('eos_token_id');
  const bos = ids('bos_token_id');
  const dtypeField = (o: Json) => (typeof o.torch_dtype === 'string' ? o.torch_dtype : typeof o.dtype === 'string' ? o.dtype : null);
  const torchDtype = dtypeField(top) ?? dtypeField(text);
  const tieWordEmbeddings = bool(file, text, 'tie_word_embeddings', nested ? bool(file, top, 'tie_word_embeddings', true) : true, label('tie_word_embeddings'));

  return {
    architecture: 'gemma3',
    hfArchitecture,
    vocabSize,
    hiddenSize,
    intermediateSize: i('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(file, text, 'rms_norm_eps', D.rms_norm_eps, true, label('rms_norm_eps')),
    ropeTheta: rope.full.theta,
    ropeScaling: rope.full.scaling,
    tieWordEmbeddings,
    qkvBias: attentionBias,
    oBias: attentionBias,
    mlpBias: false,
    qkNorm: true,
    slidingWindow: sw,
    maxPositionEmbeddings: i('max_position_embeddings'),
    torchDtype,
    bosTokenId: bos[0] ?? null,
    eosTokenIds: eos,
    layerAttention,
    localRope: rope.local,
    embedScale: gemmaEmbedScale(hiddenSize, configDtype(torchDtype)),
    normOffset: 1,
    sandwichNorms: true,
    mlpActivation: 'gelu_tanh',
    attentionScale: num(file, text, 'query_pre_attn_scalar', D.query_pre_attn_scalar, true, label('query_pre_attn_scalar')) ** -0.5,
    attnLogitSoftcap: optionalPositive(file, text, 'attn_logit_softcapping', label('attn_logit_softcapping')),
    finalLogitSoftcap: optionalPositive(file, text, 'final_logit_softcapping', label('final_logit_softcapping')),
  };
}

/**
 * layer_types when given; else older files' sliding_window_pattern (default 6): layer i slides iff
 * (i + 1) % pattern != 0, so every pattern-th layer attends to everything.
 */
function layerTypes(file: string, text: Json, L: number, label: (k: string) => string): LayerAttention[] {
  const given = text.layer_types;
  if (given !== undefined && given !== null) {
    if (!Array.isArray(given) || given.length !== L) {
      throw new FormatError(file, `field ${label('layer_types')} must list one of "sliding_attention" / "full_attention" per layer (num_hidden_layers ${L}), got ${JSON.stringify(given)}`);
    }
    return given.map((t, l) => {
      if (t === 'sliding_attention') return 'sliding';
      if (t === 'full_attention') return 'full';
      throw new FormatError(file, `field ${label('layer_types')}[${l}] is ${JSON.stringify(t)}; supported: "sliding_attention", "full_attention"`);
    });
  }
  const key = text.sliding_window_pattern !== undefined && text.sliding_window_pattern !== null ? 'sliding_window_pattern' : '_sliding_window_pattern';
  const pattern = int(file, text, key, GEMMA3_TEXT_DEFAULTS.sliding_window_pattern, label(key));
  return Array.from({ length: L }, (_, l) => ((l + 1) % pattern !== 0 ? 'sliding' : 'full'));
}

interface Rope {
  theta: number;
  scaling: RopeScaling;
}

/**
 * Full layers: rope_theta with rope_scaling; sliding layers: rope_local_base_freq, unscaled (as
 * Gemma3TextModel builds rotary_emb_local). Newer files give both as
 * rope_parameters: { full_attention: {rope_type, rope_theta, ...}, sliding_attention: {...} }.
 */
function ropeOf(file: string, text: Json, label: (k: string) => string): { full: Rope; local: Rope } {
  const D = GEMMA3_TEXT_DEFAULTS;
  const params = object(file, text, 'rope_parameters', label('rope_parameters'));
  const legacy = {
    full: { theta: num(file, text, 'rope_theta', D.rope_theta, true, label('rope_theta')), scaling: ropeScalingOf(file, text.rope_scaling, label('rope_scaling')) },
    local: { theta: num(file, text, 'rope_local_base_freq', D.rope_local_base_freq, true, label('rope_local_base_freq')), scaling: { type: 'default' } as RopeScaling },
  };
  if (!params) return legacy;
  const entry = (kind: 'full_attention' | 'sliding_attention', fallback: Rope): Rope => {
    const at = `${label('rope_parameters')}."${kind}"`;
    const e = object(file, params, kind, at);
    if (!e) return fallback;
    return { theta: num(file, e, 'rope_theta', fallback.theta, true, `${at}."rope_theta"`), scaling: ropeScalingOf(file, e, at) };
  };
  if (!('full_attention' in params) && !('sliding_attention' in params)) {
    // One set of parameters, as the other architectures write it: the full layers'.
    return { full: { theta: num(file, params, 'rope_theta', legacy.full.theta, true, `${label('rope_parameters')}."rope_theta"`), scaling: ropeScalingOf(file, params, label('rope_parameters')) }, local: legacy.local };
  }
  return { full: entry('full_attention', legacy.full), local: entry('sliding_attention', legacy.local) };
}
