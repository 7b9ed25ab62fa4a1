// Parses a Hugging Face `config.json` into the one config shape the engine uses.
// Dimension key: V = vocab, H = hidden, I = intermediate (MLP), L = layers,
// nH = query heads, nKV = key/value heads, D = head dim.

import { readText, type ModelFiles } from '../formats/byte-source.ts';
import { FormatError } from '../formats/errors.ts';
import { openGgufModel } from '../formats/gguf-model.ts';
import { bool, int, type Json, num, ropeScalingOf, tokenIds } from './config-fields.ts';
import { parseGemma3Config } from './config-gemma3.ts';

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma3';

/** Frequency scaling applied to RoPE's inverse frequencies. */
export type RopeScaling =
  | { type: 'default' }
  /** Inverse frequencies divided by factor (transformers' "linear"; Gemma 3 4B+ on full-attention layers). */
  | { type: 'linear'; factor: number }
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

  // What Gemma 3 adds; every Llama-family config has the neutral value (see parseModelConfig).
  /**
   * Which attention each layer uses: 'sliding' (keys within slidingWindow) or 'full' (every earlier
   * key). null = every layer alike, slidingWindow deciding (Mistral, Qwen2).
   */
  layerAttention: LayerAttention[] | null;
  /** RoPE of the sliding layers when it differs from ropeTheta / ropeScaling (Gemma 3's rope_local_base_freq); null = the same. */
  localRope: { theta: number; scaling: RopeScaling } | null;
  /** Token embeddings are multiplied by this (Gemma 3: sqrt(H) rounded to the weights' dtype); 1 = none. The LM head is not scaled. */
  embedScale: number;
  /** Added to every RMSNorm weight: 1 when the checkpoint stores them as offsets from 1 (Gemma: x * (1 + w)), else 0. */
  normOffset: 0 | 1;
  /**
   * Gemma 3's four norms per layer: the attention and MLP outputs are normed (post_attention_layernorm,
   * post_feedforward_layernorm) before their residual add, and the MLP's input norm is
   * pre_feedforward_layernorm. false: Llama's two (post_attention_layernorm is the MLP's input norm).
   */
  sandwichNorms: boolean;
  /** The gated MLP's activation: silu (SwiGLU) or gelu with the tanh approximation (GeGLU, Gemma). */
  mlpActivation: MlpActivation;
  /** Multiplies q.k before the softmax: 1/sqrt(D), or Gemma 3's query_pre_attn_scalar^-0.5. */
  attentionScale: number;
  /** Attention scores become cap * tanh(score / cap) before masking and softmax; null = none. */
  attnLogitSoftcap: number | null;
  /** Logits become cap * tanh(logits / cap) before the loss and sampling; null = none. */
  finalLogitSoftcap: number | null;
}

export type LayerAttention = 'sliding' | 'full';
export type MlpActivation = 'silu' | 'gelu_tanh';

const ARCHITECTURES: Record<string, Architecture> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  Gemma3ForCausalLM: 'gemma3',
  Gemma3ForConditionalGeneration: 'gemma3',
};

export const SUPPORTED_ARCHITECTURES = Object.keys(ARCHITECTURES);

/** transformers' model_type of each supported class. */
const MODEL_TYPES: Record<string, string> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  Gemma3ForCausalLM: 'gemma3_text',
  Gemma3ForConditionalGeneration: 'gemma3',
};

/** The architecture from "architectures", or from "model_type" when that is all the file gives. */
function architectureOf(file: string, obj: Json): { architecture: Architecture; hfArchitecture: string } {
  const archs = obj.architectures;
  const modelType = obj.model_type;
  const supported = SUPPORTED_ARCHITECTURES.join(', ');
  if ((archs === undefined || archs === null || (Array.isArray(archs) && archs.length === 0)) && typeof modelType === 'string') {
    const hf = SUPPORTED_ARCHITECTURES.find((a) => MODEL_TYPES[a] === modelType);
    if (!hf) throw new FormatError(file, `field "model_type" is ${JSON.stringify(modelType)} and there is no "architectures"; supported: ${supported}`);
    return { architecture: ARCHITECTURES[hf]!, hfArchitecture: hf };
  }
  const hfArchitecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : '';
  const architecture = ARCHITECTURES[hfArchitecture];
  if (!architecture) {
    const what = archs === undefined ? 'missing' : `${JSON.stringify(archs)}`;
    throw new FormatError(file, `field "architectures" is ${what}; supported: ${supported}`);
  }
  if (modelType !== undefined && modelType !== null && modelType !== MODEL_TYPES[hfArchitecture]) {
    throw new FormatError(
      file,
      `field "model_type" is ${JSON.stringify(modelType)}, but "architectures" names ${hfArchitecture} (model_type "${MODEL_TYPES[hfArchitecture]}"); transformers would build a different model from this file: fix one of the two`,
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
  if (architecture === 'gemma3') return parseGemma3Config(file, obj, hfArchitecture);
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
    layerAttention: null,
    localRope: null,
    embedScale: 1,
    normOffset: 0,
    sandwichNorms: false,
    mlpActivation: 'silu',
    attentionScale: 1 / Math.sqrt(headDim),
    attnLogitSoftcap: null,
    finalLogitSoftcap: null,
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
