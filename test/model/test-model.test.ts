// The test-model maker: config.json per architecture, tensor names/shapes/dtypes, shards, and the
// byte-level BPE tokenizer through loadTokenizer.

import { describe, expect, it } from 'vitest';
import { Template } from '@huggingface/jinja';
import { bytesSource, type ModelFiles } from '../../src/formats/byte-source.ts';
import { FormatError } from '../../src/formats/errors.ts';
import { fromFloat32, toFloat32 } from '../../src/formats/dtype.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { makeTestModel, testTokenizerSize, type TestModelOptions } from '../../src/model/test-model.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';

const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

function folder(files: Map<string, Uint8Array>, name = 'test-model'): ModelFiles {
  return { name, get: async (f) => (files.has(f) ? bytesSource(f, files.get(f)!) : null) };
}

interface Entry {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

function tensors(bytes: Uint8Array): Map<string, Entry> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(text(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, Entry>();
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    out.set(k, { dtype: v.dtype, shape: v.shape, data: bytes.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]) });
  }
  return out;
}

function allTensors(files: Map<string, Uint8Array>): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const [name, bytes] of files) if (name.endsWith('.safetensors')) for (const [k, v] of tensors(bytes)) out.set(k, v);
  return out;
}

describe('config.json', () => {
  const cases: [TestModelOptions, Partial<ReturnType<typeof parseModelConfig>>][] = [
    [
      { architecture: 'llama' },
      { architecture: 'llama', hfArchitecture: 'LlamaForCausalLM', qkvBias: false, oBias: false, mlpBias: false, qkNorm: false, rmsNormEps: 1e-5 },
    ],
    [
      { architecture: 'llama', attentionBias: true, mlpBias: true, tied: true },
      { qkvBias: true, oBias: true, mlpBias: true, tieWordEmbeddings: true },
    ],
    [{ architecture: 'mistral' }, { architecture: 'mistral', hfArchitecture: 'MistralForCausalLM', slidingWindow: null }],
    [{ architecture: 'mistral', slidingWindow: 5 }, { slidingWindow: 5 }],
    [
      { architecture: 'qwen2', tied: true },
      { architecture: 'qwen2', hfArchitecture: 'Qwen2ForCausalLM', qkvBias: true, oBias: false, slidingWindow: null, rmsNormEps: 1e-6, tieWordEmbeddings: true },
    ],
    [{ architecture: 'qwen2', slidingWindow: 4 }, { slidingWindow: 4 }],
    [{ architecture: 'qwen3' }, { architecture: 'qwen3', hfArchitecture: 'Qwen3ForCausalLM', qkvBias: false, oBias: false, qkNorm: true }],
    [{ architecture: 'qwen3', attentionBias: true }, { qkvBias: true, oBias: true }],
    [{ architecture: 'qwen3', ropeParameters: true, ropeTheta: 1e6, dtype: 'BF16' }, { ropeTheta: 1e6, ropeScaling: { type: 'default' }, torchDtype: 'bfloat16' }],
    [
      { architecture: 'llama', ropeScaling: 'llama3', ropeParameters: true },
      { ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 } },
    ],
    [{ architecture: 'llama', hiddenSize: 32, numHeads: 4, headDim: 12 }, { hiddenSize: 32, headDim: 12 }],
  ];
  it.each(cases)('%j parses with the expected fields', (opts, expected) => {
    const files = makeTestModel(opts);
    const cfg = parseModelConfig(text(files.get('config.json')));
    expect(cfg).toMatchObject(expected);
    expect(cfg.vocabSize % 4).toBe(0);
    expect(cfg.vocabSize).toBeGreaterThanOrEqual(testTokenizerSize());
    expect(cfg.eosTokenIds).toHaveLength(1);
    expect(cfg.bosTokenId).not.toBeNull();
  });

  it('writes the defaults and the llama3 block as transformers does', () => {
    const raw = JSON.parse(text(makeTestModel({ architecture: 'llama', ropeScaling: 'llama3' }).get('config.json'))) as Record<string, unknown>;
    expect(raw).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 8,
      tie_word_embeddings: false,
      torch_dtype: 'float32',
      rope_theta: 10000,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
    });
    const qwen3 = JSON.parse(text(makeTestModel({ architecture: 'qwen3', ropeParameters: true }).get('config.json'))) as Record<string, unknown>;
    expect(qwen3.rope_parameters).toEqual({ rope_theta: 10000, rope_type: 'default' });
    expect(qwen3).not.toHaveProperty('rope_theta');
  });

  it('rejects options transformers cannot express', () => {
    expect(() => makeTestModel({ architecture: 'mistral', attentionBias: true })).toThrow(/attention_bias/);
    expect(() => makeTestModel({ architecture: 'qwen2', mlpBias: true })).toThrow(/mlp_bias/);
    expect(() => makeTestModel({ architecture: 'llama', numHeads: 3 })).toThrow(/multiple/);
    expect(() => makeTestModel({ architecture: 'llama', vocabSize: 8 })).toThrow(/tokenizer/);
  });
});

describe('tensors', () => {
  it('has the Hugging Face names and [out, in] shapes of each architecture', () => {
    const llama = allTensors(makeTestModel({ architecture: 'llama', headDim: 12, attentionBias: true, mlpBias: true }));
    const V = Math.ceil(testTokenizerSize() / 4) * 4;
    const shape = (m: Map<string, Entry>, n: string) => m.get(n)?.shape;
    expect(shape(llama, 'model.embed_tokens.weight')).toEqual([V, 32]);
    expect(shape(llama, 'model.layers.1.self_attn.q_proj.weight')).toEqual([48, 32]);
    expect(shape(llama, 'model.layers.1.self_attn.k_proj.weight')).toEqual([24, 32]);
    expect(shape(llama, 'model.layers.1.self_attn.v_proj.bias')).toEqual([24]);
    expect(shape(llama, 'model.layers.1.self_attn.o_proj.weight')).toEqual([32, 48]);
    expect(shape(llama, 'model.layers.1.self_attn.o_proj.bias')).toEqual([32]);
    expect(shape(llama, 'model.layers.0.mlp.gate_proj.weight')).toEqual([64, 32]);
    expect(shape(llama, 'model.layers.0.mlp.down_proj.weight')).toEqual([32, 64]);
    expect(shape(llama, 'model.layers.0.mlp.down_proj.bias')).toEqual([32]);
    expect(shape(llama, 'model.layers.0.input_layernorm.weight')).toEqual([32]);
    expect(shape(llama, 'model.layers.0.post_attention_layernorm.weight')).toEqual([32]);
    expect(shape(llama, 'model.norm.weight')).toEqual([32]);
    expect(shape(llama, 'lm_head.weight')).toEqual([V, 32]);
    expect(llama.size).toBe(1 + 2 * (2 + 8 + 6) + 2);

    const qwen2 = allTensors(makeTestModel({ architecture: 'qwen2', tied: true }));
    expect(qwen2.has('model.layers.0.self_attn.q_proj.bias')).toBe(true);
    expect(qwen2.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(qwen2.has('lm_head.weight')).toBe(false);

    const qwen3 = allTensors(makeTestModel({ architecture: 'qwen3', headDim: 16 }));
    expect(shape(qwen3, 'model.layers.0.self_attn.q_norm.weight')).toEqual([16]);
    expect(shape(qwen3, 'model.layers.0.self_attn.k_norm.weight')).toEqual([16]);
    expect(qwen3.has('model.layers.0.self_attn.q_proj.bias')).toBe(false);
  });

  it('is deterministic per seed, and options leave the other tensors bit-identical', () => {
    const a = makeTestModel({ architecture: 'llama', seed: 7 });
    expect(makeTestModel({ architecture: 'llama', seed: 7 }).get('model.safetensors')).toEqual(a.get('model.safetensors'));
    expect(makeTestModel({ architecture: 'llama', seed: 8 }).get('model.safetensors')).not.toEqual(a.get('model.safetensors'));
    const tied = allTensors(makeTestModel({ architecture: 'llama', seed: 7, tied: true, attentionBias: true }));
    for (const [k, v] of allTensors(a)) if (k !== 'lm_head.weight') expect(tied.get(k)?.data, k).toEqual(v.data);
  });

  it('keeps activations O(1): linears +-1/sqrt(fan_in), norms near but not at 1, small non-zero biases', () => {
    const t = allTensors(makeTestModel({ architecture: 'qwen2' }));
    const vals = (n: string) => Array.from(toFloat32('F32', t.get(n)!.data));
    const q = vals('model.layers.0.self_attn.q_proj.weight');
    expect(Math.max(...q.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(32));
    const norm = vals('model.norm.weight');
    expect(norm.every((x) => Math.abs(x - 1) <= 0.1)).toBe(true);
    expect(norm.some((x) => Math.abs(x - 1) > 0.01)).toBe(true);
    const bias = vals('model.layers.0.self_attn.q_proj.bias');
    expect(bias.every((x) => x !== 0 && Math.abs(x) <= 0.1)).toBe(true);
  });

  it.each(['F16', 'BF16'] as const)('stores %s values rounded from the same f32 draws', (dtype) => {
    const f32 = allTensors(makeTestModel({ architecture: 'llama' }));
    const half = allTensors(makeTestModel({ architecture: 'llama', dtype }));
    for (const [k, v] of f32) {
      const h = half.get(k)!;
      expect(h.dtype).toBe(dtype);
      expect(h.data).toEqual(fromFloat32(dtype, toFloat32('F32', v.data)));
    }
  });

  it('writes shards and an index whose weight_map and total_size match', () => {
    const single = makeTestModel({ architecture: 'qwen3' });
    const sharded = makeTestModel({ architecture: 'qwen3', shards: 3 });
    expect([...sharded.keys()].filter((k) => k.endsWith('.safetensors')).sort()).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
    ]);
    expect(sharded.has('model.safetensors')).toBe(false);
    const index = JSON.parse(text(sharded.get('model.safetensors.index.json'))) as {
      metadata: { total_size: number };
      weight_map: Record<string, string>;
    };
    const all = allTensors(single);
    let total = 0;
    for (const [k, v] of all) {
      total += v.data.byteLength;
      const shard = index.weight_map[k];
      expect(shard, k).toBeDefined();
      expect(tensors(sharded.get(shard!)!).get(k)?.data, k).toEqual(v.data);
    }
    expect(Object.keys(index.weight_map)).toHaveLength(all.size);
    expect(index.metadata.total_size).toBe(total);
  });
});

describe('tokenizer', () => {
  const files = makeTestModel({ architecture: 'qwen2' });
  const cfg = parseModelConfig(text(files.get('config.json')));

  it.each([
    'Hello, world! The students learn to read the text.',
    'naïve café — 日本語, Ελληνικά, عربى',
    'emoji 🙂👍🏽 and a family 👨‍👩‍👧 and a flag 🇫🇷',
    '   leading, inner   runs\t\tof tabs\n\n\nand trailing   ',
    "it's 2024; don't stop: 3.14159 + 1e-5",
    '',
  ])('round-trips %j', async (s) => {
    const tok = await loadTokenizer(folder(files), cfg);
    const ids = tok.encode(s);
    expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize)).toBe(true);
    expect(tok.decode(ids)).toBe(s);
  });

  it('is a real BPE: English takes far fewer tokens than bytes', async () => {
    const tok = await loadTokenizer(folder(files), cfg);
    const s = 'When the students learn something, they talk about it in the evening.';
    expect(tok.encode(s).length).toBeLessThan(0.6 * new TextEncoder().encode(s).length);
    expect(tok.vocabSize).toBe(testTokenizerSize());
    expect(tok.vocabSize).toBeGreaterThan(300);
    expect(tok.vocabSize).toBeLessThanOrEqual(cfg.vocabSize);
  });

  it('keeps special tokens whole and can skip them when decoding', async () => {
    const tok = await loadTokenizer(folder(files), cfg);
    const ids = tok.encode('<|im_start|>user\nHi there<|im_end|>\n');
    expect(ids[0]).toBe(cfg.bosTokenId);
    expect(ids).toContain(cfg.eosTokenIds[0]);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nHi there\n');
    expect(tok.decode(ids)).toBe('<|im_start|>user\nHi there<|im_end|>\n');
    // The byte-level post-processor adds nothing, with or without special tokens.
    expect(tok.encode('Hi', { addSpecialTokens: false })).toEqual(tok.encode('Hi'));
  });

  it('decodes ids of the padded vocab tail and empty lists to nothing', async () => {
    const tok = await loadTokenizer(folder(files), cfg);
    expect(tok.decode([])).toBe('');
    expect(tok.decode([cfg.vocabSize - 1 + 1000])).toBe('');
  });

  it('takes eos ids from config.json when given, else from tokenizer_config', async () => {
    const fromTokenizer = await loadTokenizer(folder(files));
    expect(fromTokenizer.eosTokenIds).toEqual([fromTokenizer.encode('<|im_end|>')[0]]);
    expect(fromTokenizer.bosTokenId).toBe(fromTokenizer.encode('<|im_start|>')[0]);
    const fromConfig = await loadTokenizer(folder(files), { bosTokenId: 0, eosTokenIds: [0, 2] });
    expect(fromConfig.eosTokenIds).toEqual([0, 2]);
    expect(fromConfig.bosTokenId).toBe(0);
    const noConfig = new Map(files);
    noConfig.delete('tokenizer_config.json');
    const bare = await loadTokenizer(folder(noConfig));
    expect(bare.eosTokenIds).toEqual([]);
    expect(bare.decode(bare.encode('plain text'))).toBe('plain text');
  });

  it('names the folder when tokenizer.json is missing or not JSON', async () => {
    const missing = new Map(files);
    missing.delete('tokenizer.json');
    await expect(loadTokenizer(folder(missing, 'my-model'))).rejects.toThrow(FormatError);
    await expect(loadTokenizer(folder(missing, 'my-model'))).rejects.toThrow(/my-model.*tokenizer\.json/);
    const broken = new Map(files);
    broken.set('tokenizer.json', new TextEncoder().encode('{"model": '));
    await expect(loadTokenizer(folder(broken, 'my-model'))).rejects.toThrow(/my-model\/tokenizer\.json: is not valid JSON/);
    broken.set('tokenizer.json', new TextEncoder().encode('{"version": "1.0"}'));
    await expect(loadTokenizer(folder(broken, 'my-model'))).rejects.toThrow(FormatError);
  });

  it('ships a ChatML chat template that renders', () => {
    const tcfg = JSON.parse(text(files.get('tokenizer_config.json'))) as Record<string, unknown>;
    expect(tcfg).toMatchObject({ bos_token: '<|im_start|>', eos_token: '<|im_end|>', model_max_length: 256 });
    const out = new Template(tcfg.chat_template as string).render({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
      ],
      add_generation_prompt: true,
    });
    expect(out).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>assistant\n');
  });
});
