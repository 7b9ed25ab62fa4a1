// A model folder that does not hang together is refused before anything is allocated, each time
// with one FormatError naming the file and the field or tensor: config.json fields, checkpoints that
// disagree with config.json or with their index, tokenizer.json, and weights that are not finite.

import { describe, expect, it } from 'vitest';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { openCheckpoint } from '../../src/formats/checkpoint.ts';
import { fromFloat32 } from '../../src/formats/dtype.ts';
import { FormatError, TensorError } from '../../src/formats/errors.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { parseModelConfig, readModelConfig } from '../../src/model/config.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import { firstNonFinite, planWeights } from '../../src/model/weights.ts';

const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
const base = makeTestModel({ architecture: 'llama', seed: 4, dtype: 'F32' });
const baseConfig = JSON.parse(text(base.get('config.json'))) as Record<string, unknown>;

function configWith(edit: Record<string, unknown>): string {
  const c: Record<string, unknown> = { ...baseConfig };
  for (const [k, v] of Object.entries(edit)) {
    if (v === undefined) delete c[k];
    else c[k] = v;
  }
  return JSON.stringify(c);
}

describe('config.json', () => {
  it.each([
    [{ hidden_size: 0 }, /field "hidden_size" must be a positive integer, got 0/],
    [{ hidden_size: -32 }, /field "hidden_size" must be a positive integer, got -32/],
    [{ hidden_size: 32.5 }, /got 32\.5/],
    [{ hidden_size: '32' }, /got "32"/],
    [{ hidden_size: undefined }, /field "hidden_size" is missing/],
    [{ num_attention_heads: 3, num_key_value_heads: 3, head_dim: undefined }, /hidden_size \(32\) is not a multiple of num_attention_heads \(3\)/],
    [{ num_key_value_heads: 3 }, /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/],
    [{ num_key_value_heads: 8 }, /must be a multiple of num_key_value_heads \(8\)/],
    [{ head_dim: 7 }, /head_dim \(7\) must be even/],
    [{ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }, /field "architectures" is \["GPT2LMHeadModel"\]; supported: LlamaForCausalLM/],
    [{ architectures: undefined, model_type: 'gpt2' }, /field "model_type" is "gpt2" and there is no "architectures"/],
    [{ model_type: 'qwen2' }, /field "model_type" is "qwen2", but "architectures" names LlamaForCausalLM/],
    [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, /rope_scaling type "yarn" is not supported/],
    [{ rope_scaling: 'linear' }, /field "rope_scaling" must be an object/],
    [{ rope_scaling: { rope_type: 'llama3', factor: 0.5, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 128 } }, /"factor" must be at least 1/],
    [{ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 4, original_max_position_embeddings: 128 } }, /high_freq_factor \(4\) must be greater than low_freq_factor \(4\)/],
    [{ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: -1, high_freq_factor: 4, original_max_position_embeddings: 128 } }, /field "rope_scaling"."low_freq_factor" must be a positive number/],
    [{ rope_parameters: 'x' }, /field "rope_parameters" must be an object/],
    [{ rms_norm_eps: -1 }, /field "rms_norm_eps" must be a positive number, got -1/],
    [{ rope_theta: 0 }, /field "rope_theta" must be a positive number, got 0/],
    [{ max_position_embeddings: 0 }, /field "max_position_embeddings" must be a positive integer/],
    [{ eos_token_id: 9999 }, /field "eos_token_id" is 9999, outside the vocabulary \(vocab_size 404/],
    [{ eos_token_id: 'x' }, /field "eos_token_id" must be a token id/],
    [{ bos_token_id: -1 }, /field "bos_token_id" must be a token id/],
    [{ architectures: ['MistralForCausalLM'], model_type: 'mistral', use_sliding_window: true, sliding_window: -5 }, /field "sliding_window" must be a positive integer/],
    [{ attention_bias: 'no' }, /field "attention_bias" must be true or false/],
  ])('refuses %j, naming config.json and the field', (edit, message) => {
    expect(() => parseModelConfig(configWith(edit), 'my-model/config.json')).toThrow(FormatError);
    expect(() => parseModelConfig(configWith(edit), 'my-model/config.json')).toThrow(/^my-model\/config\.json/);
    expect(() => parseModelConfig(configWith(edit), 'my-model/config.json')).toThrow(message);
  });

  it('names a folder without config.json, and says so when it is an adapter', async () => {
    await expect(readModelConfig(memoryFiles('my-model', new Map()))).rejects.toThrow(/^my-model: has no config\.json; a Hugging Face model folder needs/);
    const adapter = memoryFiles('my-adapter', new Map([['adapter_config.json', new Uint8Array(2)]]));
    await expect(readModelConfig(adapter)).rejects.toThrow(/my-adapter: has no config\.json; it holds adapter_config\.json, so it is a PEFT adapter, not a model/);
  });

  it('reads the architecture from model_type when "architectures" is absent', () => {
    expect(parseModelConfig(configWith({ architectures: undefined }))).toMatchObject({ architecture: 'llama', hfArchitecture: 'LlamaForCausalLM' });
    expect(parseModelConfig(configWith({ architectures: [], model_type: 'qwen2' }))).toMatchObject({ architecture: 'qwen2' });
  });

  it('still reads every test model configuration, eos lists and null ids included', () => {
    for (const o of [{ architecture: 'qwen3' }, { architecture: 'mistral', slidingWindow: 8 }, { architecture: 'qwen2', tied: true }, { architecture: 'llama', ropeScaling: 'llama3', ropeParameters: true }] as TestModelOptions[]) {
      expect(() => parseModelConfig(text(makeTestModel(o).get('config.json')))).not.toThrow();
    }
    expect(parseModelConfig(configWith({ eos_token_id: [2, 3], bos_token_id: null }))).toMatchObject({ eosTokenIds: [2, 3], bosTokenId: null });
  });
});

async function tensorsOf(bytes: Uint8Array): Promise<TensorToWrite[]> {
  const h = await readSafetensorsHeader(bytesSource('x', bytes));
  return [...h.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype as 'F32', shape: t.shape, data: bytes.slice(t.byteOffset, t.byteOffset + t.byteLength) }));
}

async function plan(edit: (t: TensorToWrite[]) => TensorToWrite[], config = text(base.get('config.json'))) {
  const files = new Map(base);
  files.set('model.safetensors', writeSafetensors(edit(await tensorsOf(base.get('model.safetensors')!))));
  const ckpt = await openCheckpoint(memoryFiles('my-model', files));
  return planWeights(parseModelConfig(config), ckpt, 'auto');
}

describe('checkpoint against config.json', () => {
  it('refuses layers past num_hidden_layers, biases and q/k norms the architecture lacks', async () => {
    const extraLayer = (t: TensorToWrite[]) => [...t, ...t.filter((x) => x.name.startsWith('model.layers.1.')).map((x) => ({ ...x, name: x.name.replace('layers.1.', 'layers.2.') }))];
    await expect(plan(extraLayer)).rejects.toThrow(/^my-model\/model\.safetensors: tensor "model\.layers\.2\..*" belongs to layer 2, but config\.json has num_hidden_layers 2/);
    const bias = (t: TensorToWrite[]) => [...t, { name: 'model.layers.0.self_attn.q_proj.bias', dtype: 'F32' as const, shape: [32], data: new Uint8Array(128) }];
    await expect(plan(bias)).rejects.toThrow(/tensor "model\.layers\.0\.self_attn\.q_proj\.bias" is a bias that the LlamaForCausalLM described by config\.json does not have \(see "attention_bias"\)/);
    const qnorm = (t: TensorToWrite[]) => [...t, { name: 'model.layers.0.self_attn.q_norm.weight', dtype: 'F32' as const, shape: [8], data: new Uint8Array(32) }];
    await expect(plan(qnorm)).rejects.toThrow(/q\/k norm/);
  });

  it('names the config fields behind a wrong shape, and the full path of the file', async () => {
    await expect(plan((t) => t, configWith({ intermediate_size: 65 }))).rejects.toThrow(
      /^my-model\/model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[64, 32\], but config\.json implies \[65, 32\] \(hidden_size, intermediate_size\)/,
    );
    await expect(plan((t) => t, configWith({ vocab_size: 500 }))).rejects.toThrow(/\(vocab_size, hidden_size\)/);
  });

  it('ignores harmless extras such as an old checkpoint\'s rotary_emb.inv_freq', async () => {
    const invFreq = (t: TensorToWrite[]) => [...t, { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32' as const, shape: [4], data: new Uint8Array(16) }];
    await expect(plan(invFreq)).resolves.toBeTruthy();
  });

  it('refuses a shard tensor that the index does not list', async () => {
    const sharded = makeTestModel({ architecture: 'llama', seed: 4, dtype: 'F32', shards: 2 });
    const index = JSON.parse(text(sharded.get('model.safetensors.index.json'))) as { weight_map: Record<string, string> };
    const dropped = Object.keys(index.weight_map)[0]!;
    delete index.weight_map[dropped];
    sharded.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify(index)));
    const err = await openCheckpoint(memoryFiles('my-model', sharded)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TensorError);
    expect((err as Error).message).toMatch(new RegExp(`tensor "${dropped.replace(/\./g, '\\.')}" is stored in this shard, but my-model/model\\.safetensors\\.index\\.json does not list it`));
  });
});

describe('non-finite weights', () => {
  it.each(['F32', 'F16', 'BF16'] as const)('%s: finds the first NaN or infinity', (dtype) => {
    expect(firstNonFinite(dtype, fromFloat32(dtype, [1, -2, 65504, 0]))).toBe(-1);
    expect(firstNonFinite(dtype, fromFloat32(dtype, [1, 2, NaN, Infinity]))).toBe(2);
    expect(firstNonFinite(dtype, fromFloat32(dtype, [-Infinity]))).toBe(0);
    // An odd byte offset (a tensor inside a file) reads the same.
    const shifted = new Uint8Array(9);
    shifted.set(fromFloat32(dtype, [NaN]), 1);
    expect(firstNonFinite(dtype, shifted.subarray(1, 1 + (dtype === 'F32' ? 4 : 2)))).toBe(0);
  });
});

describe('tokenizer.json', () => {
  it('refuses a tokenizer model it cannot run, and an empty vocabulary', async () => {
    const tok = JSON.parse(text(base.get('tokenizer.json'))) as { model: Record<string, unknown>; added_tokens: unknown[] };
    const files = new Map(base);
    files.set('tokenizer.json', new TextEncoder().encode(JSON.stringify({ ...tok, model: { ...tok.model, type: 'WordLevelX' } })));
    await expect(loadTokenizer(memoryFiles('my-model', files))).rejects.toThrow(/^my-model\/tokenizer\.json: field "model"\."type" is "WordLevelX"; supported tokenizer models: BPE, WordPiece, Unigram/);
    files.set('tokenizer.json', new TextEncoder().encode(JSON.stringify({ ...tok, model: { ...tok.model, vocab: {}, merges: [] }, added_tokens: [] })));
    await expect(loadTokenizer(memoryFiles('my-model', files))).rejects.toThrow(/has an empty vocabulary/);
    files.set('tokenizer.json', new TextEncoder().encode(JSON.stringify({ ...tok, model: [] })));
    await expect(loadTokenizer(memoryFiles('my-model', files))).rejects.toThrow(/has no "model" object/);
  });
});
