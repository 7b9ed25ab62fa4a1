// Gemma 3's config.json in every form transformers writes: Gemma3ForCausalLM (4.50 with
// sliding_window_pattern, 4.55 with layer_types, 5.x with rope_parameters per layer type) and
// Gemma3ForConditionalGeneration with a sparse text_config that takes Gemma3TextConfig's defaults.
// Bad fields are refused naming the file and the field (nested ones with their path).

import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { layerRope, layerWindow } from '../../src/model/layers.ts';
import { ropeInvFreq } from '../../src/model/rope-freqs.ts';
import { makeTestModel } from '../../src/model/test-model.ts';

const parse = (c: unknown) => parseModelConfig(JSON.stringify(c), 'gemma/config.json');

/** google/gemma-3-1b-it's config.json (transformers 4.50). */
const GEMMA_1B = {
  architectures: ['Gemma3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, attn_logit_softcapping: null,
  bos_token_id: 2, cache_implementation: 'hybrid', eos_token_id: [1, 106], final_logit_softcapping: null, head_dim: 256,
  hidden_activation: 'gelu_pytorch_tanh', hidden_size: 1152, initializer_range: 0.02, intermediate_size: 6912,
  max_position_embeddings: 32768, model_type: 'gemma3_text', num_attention_heads: 4, num_hidden_layers: 26,
  num_key_value_heads: 1, pad_token_id: 0, query_pre_attn_scalar: 256, rms_norm_eps: 1e-6, rope_local_base_freq: 10000,
  rope_scaling: null, rope_theta: 1000000, sliding_window: 512, sliding_window_pattern: 6, torch_dtype: 'bfloat16',
  transformers_version: '4.50.0.dev0', use_cache: true, vocab_size: 262144,
};

/** A Gemma3ForConditionalGeneration config as google/gemma-3-4b-it ships it: the text config names only what differs from the defaults. */
const GEMMA_4B = {
  architectures: ['Gemma3ForConditionalGeneration'], boi_token_index: 255999, eoi_token_index: 256000, eos_token_id: [1, 106],
  image_token_index: 262144, initializer_range: 0.02, mm_tokens_per_image: 256, model_type: 'gemma3',
  text_config: { hidden_size: 2560, intermediate_size: 10240, model_type: 'gemma3_text', num_hidden_layers: 34, rope_scaling: { factor: 8.0, rope_type: 'linear' }, sliding_window: 1024 },
  torch_dtype: 'bfloat16', transformers_version: '4.50.0.dev0',
  vision_config: { hidden_size: 1152, image_size: 896, intermediate_size: 4304, model_type: 'siglip_vision_model', num_attention_heads: 16, num_hidden_layers: 27, patch_size: 14, vision_use_head: false },
};

const pattern6 = (L: number) => Array.from({ length: L }, (_, i) => ((i + 1) % 6 === 0 ? 'full' : 'sliding'));

describe('Gemma 3 configs', () => {
  it('Gemma3ForCausalLM (gemma-3-1b-it)', () => {
    const cfg = parse(GEMMA_1B);
    expect(cfg).toMatchObject({
      architecture: 'gemma3', hfArchitecture: 'Gemma3ForCausalLM', vocabSize: 262144, hiddenSize: 1152, intermediateSize: 6912,
      numLayers: 26, numHeads: 4, numKvHeads: 1, headDim: 256, rmsNormEps: 1e-6, ropeTheta: 1e6, ropeScaling: { type: 'default' },
      localRope: { theta: 10000, scaling: { type: 'default' } }, slidingWindow: 512, tieWordEmbeddings: true, qkNorm: true,
      qkvBias: false, oBias: false, mlpBias: false, normOffset: 1, sandwichNorms: true, mlpActivation: 'gelu_tanh',
      attentionScale: 1 / 16, attnLogitSoftcap: null, finalLogitSoftcap: null, embedScale: 34, bosTokenId: 2, eosTokenIds: [1, 106],
      maxPositionEmbeddings: 32768, torchDtype: 'bfloat16',
    });
    expect(cfg.layerAttention).toEqual(pattern6(26));
    expect([4, 5, 6, 11].map((l) => layerWindow(cfg, l))).toEqual([512, null, 512, null]);
    expect([4, 5].map((l) => layerRope(cfg, l))).toEqual(['local', 'global']);
  });

  it('Gemma3ForConditionalGeneration: a sparse text_config takes Gemma3TextConfig defaults; eos and dtype from the outer config', () => {
    const cfg = parse(GEMMA_4B);
    expect(cfg).toMatchObject({
      architecture: 'gemma3', hfArchitecture: 'Gemma3ForConditionalGeneration', vocabSize: 262208, hiddenSize: 2560,
      intermediateSize: 10240, numLayers: 34, numHeads: 8, numKvHeads: 4, headDim: 256, rmsNormEps: 1e-6, ropeTheta: 1e6,
      ropeScaling: { type: 'linear', factor: 8 }, localRope: { theta: 10000, scaling: { type: 'default' } }, slidingWindow: 1024,
      attentionScale: 1 / 16, maxPositionEmbeddings: 131072, tieWordEmbeddings: true, embedScale: 50.5, eosTokenIds: [1, 106],
      bosTokenId: 2, torchDtype: 'bfloat16',
    });
    expect(cfg.layerAttention).toEqual(pattern6(34));
    // Full layers divide their frequencies by 8; sliding ones do not.
    const g = ropeInvFreq(cfg, 'global');
    const loc = ropeInvFreq(cfg, 'local');
    expect(g[1]).toBeCloseTo(1e6 ** (-2 / 256) / 8, 15);
    expect(loc[1]).toBeCloseTo(1e4 ** (-2 / 256), 15);
  });

  it('no text_config at all is the default Gemma3TextConfig; only model_type also works', () => {
    const cfg = parse({ architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3' });
    expect(cfg).toMatchObject({ vocabSize: 262208, hiddenSize: 2304, intermediateSize: 9216, numLayers: 26, numHeads: 8, numKvHeads: 4, slidingWindow: 4096, eosTokenIds: [1], bosTokenId: 2 });
    expect(parse({ model_type: 'gemma3_text' }).hfArchitecture).toBe('Gemma3ForCausalLM');
    expect(parse({ model_type: 'gemma3' }).hfArchitecture).toBe('Gemma3ForConditionalGeneration');
  });

  it('layer_types (4.55) and sliding_window_pattern (4.50) say the same; layer_types wins when both are there', () => {
    const types = pattern6(26).map((t) => `${t}_attention`);
    const withTypes = parse({ ...GEMMA_1B, sliding_window_pattern: undefined, _sliding_window_pattern: 6, layer_types: types });
    expect(withTypes.layerAttention).toEqual(parse(GEMMA_1B).layerAttention);
    const custom = types.map((_, i) => (i % 2 ? 'full_attention' : 'sliding_attention'));
    expect(parse({ ...GEMMA_1B, layer_types: custom }).layerAttention).toEqual(custom.map((t) => t.replace('_attention', '')));
    expect(parse({ ...GEMMA_1B, sliding_window_pattern: 3 }).layerAttention!.slice(0, 6)).toEqual(['sliding', 'sliding', 'full', 'sliding', 'sliding', 'full']);
    expect(parse({ ...GEMMA_1B, sliding_window_pattern: undefined, _sliding_window_pattern: 2 }).layerAttention!.slice(0, 4)).toEqual(['sliding', 'full', 'sliding', 'full']);
  });

  it('rope_parameters per layer type (transformers 5)', () => {
    const { rope_theta: _t, rope_scaling: _s, rope_local_base_freq: _l, ...rest } = GEMMA_1B;
    const cfg = parse({
      ...rest,
      rope_parameters: { full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } },
    });
    expect(cfg).toMatchObject({ ropeTheta: 1e6, ropeScaling: { type: 'linear', factor: 8 }, localRope: { theta: 10000, scaling: { type: 'default' } } });
    const half = parse({ ...rest, rope_parameters: { sliding_attention: { rope_type: 'default', rope_theta: 500 } } });
    expect(half).toMatchObject({ ropeTheta: 1e6, localRope: { theta: 500 } });
  });

  it('softcaps, query_pre_attn_scalar and attention_bias are read', () => {
    const cfg = parse({ ...GEMMA_1B, attn_logit_softcapping: 50, final_logit_softcapping: 30, query_pre_attn_scalar: 144, attention_bias: true });
    expect(cfg).toMatchObject({ attnLogitSoftcap: 50, finalLogitSoftcap: 30, attentionScale: 1 / 12, qkvBias: true, oBias: true });
  });

  it("leaves Llama-family configs' behaviour as it was (neutral Gemma fields)", () => {
    const llama = parseModelConfig(new TextDecoder().decode(makeTestModel({ architecture: 'llama', headDim: 12 }).get('config.json')));
    expect(llama).toMatchObject({
      layerAttention: null, localRope: null, embedScale: 1, normOffset: 0, sandwichNorms: false, mlpActivation: 'silu',
      attentionScale: 1 / Math.sqrt(12), attnLogitSoftcap: null, finalLogitSoftcap: null,
    });
    const mistral = parseModelConfig(new TextDecoder().decode(makeTestModel({ architecture: 'mistral', slidingWindow: 5, numLayers: 3 }).get('config.json')));
    expect([0, 1, 2].map((l) => layerWindow(mistral, l))).toEqual([5, 5, 5]);
  });

  it('the test model writes every Gemma3TextConfig field, sorted, in each form', () => {
    const keys = (o: Parameters<typeof makeTestModel>[0]) => Object.keys(JSON.parse(new TextDecoder().decode(makeTestModel(o).get('config.json'))) as object);
    const v450 = keys({ architecture: 'gemma3' });
    expect(v450).toEqual([...v450].sort());
    for (const k of ['attn_logit_softcapping', 'final_logit_softcapping', 'query_pre_attn_scalar', 'rope_local_base_freq', 'sliding_window', 'sliding_window_pattern', 'hidden_activation', 'head_dim']) expect(v450).toContain(k);
    expect(keys({ architecture: 'gemma3', layerTypes: true })).toEqual(expect.arrayContaining(['layer_types', '_sliding_window_pattern', 'use_bidirectional_attention']));
    const v5 = keys({ architecture: 'gemma3', ropeParameters: true });
    expect(v5).toEqual(expect.arrayContaining(['rope_parameters', 'layer_types', 'dtype']));
    expect(v5).not.toContain('rope_theta');
    const mm = JSON.parse(new TextDecoder().decode(makeTestModel({ architecture: 'gemma3', multimodal: 'new' }).get('config.json'))) as Record<string, unknown>;
    expect(mm).toMatchObject({ architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: { model_type: 'gemma3_text' } });
  });
});

describe('Gemma 3 config errors name the file and the field', () => {
  const tc = (edit: Record<string, unknown>) => ({ ...GEMMA_4B, text_config: { ...GEMMA_4B.text_config, ...edit } });
  it.each([
    [{ ...GEMMA_1B, model_type: 'gemma3' }, /field "model_type" is "gemma3", but "architectures" names Gemma3ForCausalLM \(model_type "gemma3_text"\)/],
    [{ ...GEMMA_1B, layer_types: ['sliding_attention'] }, /field "layer_types" must list one of "sliding_attention" \/ "full_attention" per layer \(num_hidden_layers 26\)/],
    [{ ...GEMMA_1B, layer_types: pattern6(26).map((t, i) => (i === 3 ? 'chunked_attention' : `${t}_attention`)) }, /field "layer_types"\[3\] is "chunked_attention"/],
    [{ ...GEMMA_1B, sliding_window_pattern: 0 }, /field "sliding_window_pattern" must be a positive integer/],
    [{ ...GEMMA_1B, hidden_activation: 'gelu' }, /field "hidden_activation" is "gelu"; supported: gelu_pytorch_tanh/],
    [{ ...GEMMA_1B, use_bidirectional_attention: true }, /field "use_bidirectional_attention" is true: this is an embedding model/],
    [{ ...GEMMA_1B, query_pre_attn_scalar: 0 }, /field "query_pre_attn_scalar" must be a positive number, got 0/],
    [{ ...GEMMA_1B, final_logit_softcapping: -30 }, /field "final_logit_softcapping" must be a positive number, got -30/],
    [{ ...GEMMA_1B, attn_logit_softcapping: 'yes' }, /field "attn_logit_softcapping" must be a number/],
    [{ ...GEMMA_1B, sliding_window: -1 }, /field "sliding_window" must be a positive integer/],
    [{ ...GEMMA_1B, rope_scaling: { rope_type: 'linear', factor: 0.5 } }, /field "rope_scaling"."factor" must be at least 1 for linear scaling/],
    [{ ...GEMMA_1B, rope_scaling: { rope_type: 'linear' } }, /field "rope_scaling"."factor" is missing/],
    [{ ...GEMMA_1B, rope_local_base_freq: 0 }, /field "rope_local_base_freq" must be a positive number/],
    [{ ...GEMMA_1B, rope_parameters: { full_attention: { rope_type: 'yarn', factor: 4 } } }, /rope_scaling type "yarn" is not supported/],
    [{ ...GEMMA_1B, rope_parameters: { sliding_attention: 5 } }, /field "rope_parameters"."sliding_attention" must be an object/],
    [{ ...GEMMA_1B, eos_token_id: 300000 }, /field "eos_token_id" is 300000, outside the vocabulary/],
    [{ ...GEMMA_1B, num_key_value_heads: 3 }, /must be a multiple of num_key_value_heads \(3\)/],
    [{ ...GEMMA_4B, text_config: 'x' }, /field "text_config" must be an object/],
    [tc({ model_type: 'llama' }), /field "text_config"."model_type" is "llama"/],
    [tc({ vocab_size: 0 }), /field "text_config"."vocab_size" must be a positive integer, got 0/],
    [tc({ rope_scaling: { rope_type: 'linear', factor: 0 } }), /field "text_config"."rope_scaling"."factor" must be a positive number/],
    [tc({ head_dim: 7 }), /field "text_config"."head_dim" \(7\) must be even/],
    [{ ...GEMMA_4B, eos_token_id: 'x' }, /field "eos_token_id" must be a token id/],
  ])('refuses %#', (config, message) => {
    expect(() => parse(config)).toThrow(FormatError);
    expect(() => parse(config)).toThrow(/^gemma\/config\.json: /);
    expect(() => parse(config)).toThrow(message);
  });
});
