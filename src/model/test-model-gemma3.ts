// The Gemma 3 part of makeTestModel: config.json as transformers writes Gemma3TextConfig (the 4.50
// form with sliding_window_pattern, the 4.55 form with layer_types, or the 5.x form with
// rope_parameters per layer type), or a Gemma3ForConditionalGeneration config with the text config
// nested; and the tensors: four norms per layer plus q/k norms, all stored as offsets from 1.
// Dimension key: V = vocab, H = hidden, I = intermediate (MLP), nH = query heads, nKV = key/value
// heads, D = head dim.

import type { Dims, Init, TensorSpec, TestModelOptions } from './test-model.ts';

/** Token ids the config names (the test tokenizer's). */
export interface ConfigIds {
  bos: number;
  eos: number;
  pad: number;
}

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/** Gemma3TextConfig's fields for these options, keys sorted as to_json_string writes them. */
function textConfig(o: TestModelOptions, d: Dims, ids: ConfigIds): Record<string, unknown> {
  const pattern = o.slidingWindowPattern ?? 6;
  const layerTypes = Array.from({ length: d.L }, (_, i) => ((i + 1) % pattern !== 0 ? 'sliding_attention' : 'full_attention'));
  const v5 = o.ropeParameters === true;
  const withTypes = v5 || o.layerTypes === true;
  const ropeTheta = o.ropeTheta ?? 1_000_000;
  const localTheta = o.ropeLocalTheta ?? 10_000;
  const scaling = o.ropeScaling === 'linear' ? { factor: 8, rope_type: 'linear' } : null;
  const c: Record<string, unknown> = {};
  if (withTypes && !v5) c._sliding_window_pattern = pattern;
  Object.assign(c, {
    architectures: ['Gemma3ForCausalLM'],
    attention_bias: o.attentionBias ?? false,
    attention_dropout: 0,
    attn_logit_softcapping: o.attnLogitSoftcap ?? null,
    bos_token_id: ids.bos,
  });
  if (!withTypes) c.cache_implementation = 'hybrid';
  Object.assign(c, {
    [v5 ? 'dtype' : 'torch_dtype']: TORCH_DTYPE[o.dtype ?? 'F32'],
    eos_token_id: ids.eos,
    final_logit_softcapping: o.finalLogitSoftcap ?? null,
    head_dim: d.D,
    hidden_activation: 'gelu_pytorch_tanh',
    hidden_size: d.H,
    initializer_range: 0.02,
    intermediate_size: d.I,
  });
  if (withTypes) c.layer_types = layerTypes;
  Object.assign(c, {
    max_position_embeddings: o.maxPositionEmbeddings ?? 256,
    model_type: 'gemma3_text',
    num_attention_heads: d.nH,
    num_hidden_layers: d.L,
    num_key_value_heads: d.nKV,
    pad_token_id: ids.pad,
    // Unlike the shipped models (query_pre_attn_scalar = head_dim), so a kernel scaling by 1/sqrt(D) fails.
    query_pre_attn_scalar: o.queryPreAttnScalar ?? 16,
    rms_norm_eps: 1e-6,
  });
  if (v5) {
    c.rope_parameters = {
      full_attention: { rope_theta: ropeTheta, rope_type: 'default', ...(scaling ?? {}) },
      sliding_attention: { rope_theta: localTheta, rope_type: 'default' },
    };
  } else {
    c.rope_local_base_freq = localTheta;
    c.rope_scaling = scaling;
    c.rope_theta = ropeTheta;
  }
  c.sliding_window = o.slidingWindow ?? 4;
  if (!withTypes) c.sliding_window_pattern = pattern;
  c.tie_word_embeddings = o.tied ?? true;
  c.transformers_version = v5 ? '5.0.0' : withTypes ? '4.55.0' : '4.50.0';
  if (withTypes) c.use_bidirectional_attention = false;
  c.use_cache = true;
  c.vocab_size = d.V;
  // The dtype key sits where sorting puts it.
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * config.json: Gemma3TextConfig, or (multimodal) a Gemma3ForConditionalGeneration config whose
 * text_config holds it, with a tiny vision_config the engine never reads.
 */
export function gemma3ConfigJson(o: TestModelOptions, d: Dims, ids: ConfigIds): Record<string, unknown> {
  const text = textConfig(o, d, ids);
  if (!o.multimodal) return text;
  const { architectures: _a, eos_token_id: eos, bos_token_id: _b, torch_dtype: td, dtype, transformers_version: tv, ...rest } = text;
  return {
    architectures: ['Gemma3ForConditionalGeneration'],
    boi_token_index: ids.bos,
    eoi_token_index: ids.eos,
    eos_token_id: eos,
    image_token_index: ids.pad,
    initializer_range: 0.02,
    mm_tokens_per_image: 4,
    model_type: 'gemma3',
    text_config: { ...rest, bos_token_id: ids.bos },
    ...(td !== undefined ? { torch_dtype: td } : { dtype }),
    transformers_version: tv,
    vision_config: { hidden_size: 8, image_size: 16, intermediate_size: 16, model_type: 'siglip_vision_model', num_attention_heads: 2, num_hidden_layers: 1, patch_size: 8 },
  };
}

/** Every tensor of the text model, with Hugging Face's plain (Gemma3ForCausalLM) names. */
export function gemma3TensorSpecs(o: TestModelOptions, d: Dims, linear: (name: string, out: number, inp: number) => TensorSpec): TensorSpec[] {
  const bias = o.attentionBias ?? false;
  const biasSpec = (name: string, out: number): TensorSpec => ({ name: `${name}.bias`, shape: [out], init: { kind: 'uniform', scale: 0.1 } });
  // Stored as offsets from 1 (the model multiplies by 1 + w): nonzero, so an engine that forgets the 1 fails.
  const offsetInit: Init = o.init === 'pretrain' ? { kind: 'uniform', scale: 0 } : { kind: 'uniform', scale: 0.1 };
  const norm = (name: string, n: number): TensorSpec => ({ name: `${name}.weight`, shape: [n], init: offsetInit });
  const specs: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [d.V, d.H], init: o.init === 'pretrain' ? { kind: 'normal', std: 0.02 } : { kind: 'normal', std: 0.5 } }];
  for (let l = 0; l < d.L; l++) {
    const p = `model.layers.${l}`;
    specs.push(norm(`${p}.input_layernorm`, d.H));
    for (const [m, out, inp] of [['q_proj', d.nH * d.D, d.H], ['k_proj', d.nKV * d.D, d.H], ['v_proj', d.nKV * d.D, d.H], ['o_proj', d.H, d.nH * d.D]] as const) {
      specs.push(linear(`${p}.self_attn.${m}`, out, inp));
      if (bias) specs.push(biasSpec(`${p}.self_attn.${m}`, out));
    }
    specs.push(norm(`${p}.self_attn.q_norm`, d.D), norm(`${p}.self_attn.k_norm`, d.D));
    specs.push(norm(`${p}.post_attention_layernorm`, d.H), norm(`${p}.pre_feedforward_layernorm`, d.H), norm(`${p}.post_feedforward_layernorm`, d.H));
    for (const [m, out, inp] of [['gate_proj', d.I, d.H], ['up_proj', d.I, d.H], ['down_proj', d.H, d.I]] as const) specs.push(linear(`${p}.mlp.${m}`, out, inp));
  }
  specs.push(norm('model.norm', d.H));
  if (!(o.tied ?? true)) specs.push(linear('lm_head', d.V, d.H));
  return specs;
}

/**
 * A multimodal checkpoint's name for a text tensor: transformers < 4.52 saved
 * "language_model.model.layers.0..." ('old'), later ones "model.language_model.layers.0..." ('new').
 */
export function multimodalName(name: string, form: 'old' | 'new'): string {
  if (name === 'lm_head.weight') return form === 'old' ? 'language_model.lm_head.weight' : 'lm_head.weight';
  const rest = name.slice('model.'.length);
  return form === 'old' ? `language_model.model.${rest}` : `model.language_model.${rest}`;
}

/** A few vision-tower and projector tensors, which the text engine must skip. */
export function visionTensorSpecs(form: 'old' | 'new'): TensorSpec[] {
  const p = form === 'old' ? '' : 'model.';
  const init: Init = { kind: 'uniform', scale: 0.1 };
  return [
    { name: `${p}vision_tower.vision_model.embeddings.patch_embedding.weight`, shape: [8, 3, 8, 8], init },
    { name: `${p}vision_tower.vision_model.post_layernorm.weight`, shape: [8], init },
    { name: `${p}multi_modal_projector.mm_input_projection_weight`, shape: [8, 16], init },
    { name: `${p}multi_modal_projector.mm_soft_emb_norm.weight`, shape: [8], init },
  ];
}
