// GGUF models as a model source: config from the metadata, transformers' tensor names, llama's
// permuted q/k read back in the original order (the GGUF model computes what the Hugging Face
// folder it was converted from computes), Llama 3 scaling from rope_freqs, and clear refusals.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource, memoryFiles, type ModelFiles } from '../../src/formats/byte-source.ts';
import { openCheckpoint } from '../../src/formats/checkpoint.ts';
import { FormatError, TensorError } from '../../src/formats/errors.ts';
import { type GgufValue, readGguf, readGgufHeader, writeGguf } from '../../src/formats/gguf.ts';
import { ggufModelFiles, llama3ScalingOf } from '../../src/formats/gguf-model.ts';
import { ropeInvFreq } from '../../src/model/rope-freqs.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { parseModelConfig, readModelConfig } from '../../src/model/config.ts';
import { destroyModel, loadModel } from '../../src/model/model.ts';
import { planWeights } from '../../src/model/weights.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import { hfFolderToGguf } from '../helpers/gguf-model.ts';
import { testGpu } from '../helpers/gpu.ts';
import { engineLogits } from '../helpers/model.ts';

/** The GGUF as a model folder, with the HF folder's tokenizer files beside it. */
function ggufWithTokenizer(gguf: Uint8Array, hf: Map<string, Uint8Array>): ModelFiles {
  const beside = new Map([...hf].filter(([n]) => n.startsWith('tokenizer')));
  return ggufModelFiles(bytesSource('model.gguf', gguf), memoryFiles('folder', beside));
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const TOKENS = [1, 5, 9, 20, 7, 3, 44, 2, 17, 11];

describe('GGUF model source', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.device.destroy());

  const cases: [string, TestModelOptions][] = [
    ['llama (GQA, permuted q/k)', { architecture: 'llama', numHeads: 4, numKvHeads: 2, seed: 3 }],
    ['llama with Llama 3 scaling (rope_freqs)', { architecture: 'llama', ropeScaling: 'llama3', seed: 4 }],
    ['llama with attention biases', { architecture: 'llama', attentionBias: true, seed: 9 }],
    ['mistral (loads as llama)', { architecture: 'mistral', numKvHeads: 2, seed: 5 }],
    ['qwen2 (q/k/v biases, not permuted)', { architecture: 'qwen2', tied: true, seed: 6 }],
    ['qwen3 (q/k norms, explicit head_dim)', { architecture: 'qwen3', headDim: 16, seed: 7 }],
  ];
  for (const [name, o] of cases) {
    it(`${name}: logits equal the Hugging Face folder's`, async () => {
      const hf = makeTestModel({ dtype: 'F32', ...o });
      const ref = await loadModel(gpu, memoryFiles('hf', hf));
      const model = await loadModel(gpu, ggufWithTokenizer(await hfFolderToGguf(hf), hf));
      try {
        expect(model.cfg.numLayers).toBe(ref.cfg.numLayers);
        // config.json made from the metadata (what a merge into a folder keeps) says the same scaling.
        expect(model.cfg.ropeScaling).toEqual(ref.cfg.ropeScaling);
        expect(model.cfg.tieWordEmbeddings).toBe(ref.cfg.tieWordEmbeddings);
        const a = await engineLogits(ref, TOKENS);
        const b = await engineLogits(model, TOKENS);
        // Same f32 weights, same kernels: only RoPE's frequencies may differ (f32 factors vs f64).
        expect(maxAbsDiff(a, b)).toBeLessThan(o.ropeScaling ? 1e-4 : 1e-6);
      } finally {
        destroyModel(ref);
        destroyModel(model);
      }
    });
  }

  it('refuses a block whose f16 scale is not finite, naming the tensor and element', async () => {
    const hf = makeTestModel({ architecture: 'qwen2', dtype: 'F32', hiddenSize: 64, intermediateSize: 96, seed: 12 });
    const bytes = await hfFolderToGguf(hf, { typeOf: () => 'Q8_0' });
    const g = readGguf(bytes, 'model.gguf', 'compute');
    const t = g.tensors.find((x) => x.name === 'blk.1.ffn_up.weight')!;
    // Block 3 of the tensor: its scale (the block's first two bytes) becomes f16 infinity.
    new DataView(t.data.buffer, t.data.byteOffset).setUint16(3 * 34, 0x7c00, true);
    const e = await loadModel(gpu, ggufWithTokenizer(bytes, hf)).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(TensorError);
    expect((e as Error).message).toMatch(/model\.gguf: tensor "blk\.1\.ffn_up\.weight" holds (Infinity|-Infinity|NaN) at element 9\d; .*corrupt/);
  });

  it('reads a GGUF v2 file the same as v3', async () => {
    const hf = makeTestModel({ architecture: 'qwen2', dtype: 'F32', seed: 1 });
    const v2 = ggufWithTokenizer(await hfFolderToGguf(hf, { version: 2 }), hf);
    const v3 = ggufWithTokenizer(await hfFolderToGguf(hf), hf);
    expect(await readModelConfig(v2)).toEqual(await readModelConfig(v3));
    expect([...(await openCheckpoint(v2)).tensors.keys()]).toEqual([...(await openCheckpoint(v3)).tensors.keys()]);
  });

  it('names the tensors as transformers does and keeps the block types', async () => {
    const hf = makeTestModel({ architecture: 'llama', dtype: 'F32', hiddenSize: 64, intermediateSize: 96, seed: 2 });
    const gguf = await hfFolderToGguf(hf, { typeOf: (n) => (n.includes('ffn_down') ? 'Q8_0' : n.includes('attn') ? 'Q4_0' : 'F16') });
    const ckpt = await openCheckpoint(ggufWithTokenizer(gguf, hf));
    expect(ckpt.tensors.get('model.layers.0.mlp.down_proj.weight')?.dtype).toBe('Q8_0');
    expect(ckpt.tensors.get('model.layers.0.self_attn.q_proj.weight')?.dtype).toBe('Q4_0');
    expect(ckpt.tensors.get('model.layers.0.self_attn.q_proj.weight')?.rotaryHeads).toBeGreaterThan(0);
    expect(ckpt.tensors.get('model.layers.0.self_attn.v_proj.weight')?.rotaryHeads).toBeUndefined();
    expect(ckpt.tensors.get('model.embed_tokens.weight')?.dtype).toBe('F16');
    expect(ckpt.tensors.get('model.norm.weight')?.dtype).toBe('F32');
  });

  it('reads only the header of a large file', async () => {
    const hf = makeTestModel({ architecture: 'qwen2', dtype: 'F32', seed: 1 });
    const bytes = await hfFolderToGguf(hf);
    let read = 0;
    const src = { name: 'big.gguf', size: bytes.byteLength, read: async (o: number, n: number) => ((read += n), bytes.subarray(o, o + n)) };
    const h = await readGgufHeader(src);
    expect(h.tensors.length).toBeGreaterThan(5);
    expect(read).toBeLessThanOrEqual(Math.min(bytes.byteLength, 1 << 20));
  });
});

describe('Llama 3 scaling from rope_freqs', () => {
  it("recovers Llama-3.1-8B's published rope_scaling from the f32 factors its GGUF holds", () => {
    const cfg = parseModelConfig(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'configs', 'llama-3.1-8b', 'config.json'), 'utf8'));
    const plain = ropeInvFreq({ ...cfg, ropeScaling: { type: 'default' } });
    const scaled = ropeInvFreq(cfg);
    const factors = Array.from(Float32Array.from(plain, (f, j) => f / scaled[j]!));
    expect(llama3ScalingOf(factors, 128, 500000)).toEqual({ rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
    expect(llama3ScalingOf(factors.map((f, j) => (j === 40 ? f * 1.01 : f)), 128, 500000)).toBeNull();
  });
});

describe('GGUF model refusals', () => {
  async function base(): Promise<{ meta: [string, GgufValue][]; bytes: Uint8Array; hf: Map<string, Uint8Array> }> {
    const hf = makeTestModel({ architecture: 'llama', dtype: 'F32', seed: 1 });
    const bytes = await hfFolderToGguf(hf);
    return { meta: [...readGguf(bytes, 'm.gguf', 'compute').metadata], bytes, hf };
  }
  async function rewrite(edit: (m: [string, GgufValue][]) => [string, GgufValue][]): Promise<ModelFiles> {
    const { bytes, hf } = await base();
    const g = readGguf(bytes, 'm.gguf', 'compute');
    return ggufWithTokenizer(writeGguf(edit([...g.metadata]), g.tensors), hf);
  }
  const configError = async (files: ModelFiles, ...parts: string[]) => {
    const e = await readModelConfig(files).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(FormatError);
    for (const p of parts) expect((e as Error).message).toContain(p);
  };

  it('names a missing or malformed metadata key', async () => {
    await configError(await rewrite((m) => m.filter(([k]) => k !== 'llama.embedding_length')), 'model.gguf', 'llama.embedding_length');
    await configError(await rewrite((m) => m.map(([k, v]) => [k, k === 'llama.block_count' ? { type: 'string', value: 'two' } : v])), 'llama.block_count', 'positive integer');
    await configError(await rewrite((m) => m.map(([k, v]) => [k, k === 'llama.rope.dimension_count' ? { type: 'u32', value: 4 } : v])), 'partial rotary');
  });

  it('names the metadata keys and the GGUF tensor when they disagree', async () => {
    await configError(await rewrite((m) => m.map(([k, v]) => [k, k === 'llama.attention.head_count_kv' ? { type: 'u32', value: 3 } : v])), 'llama.attention.head_count 4, not a multiple of llama.attention.head_count_kv 3');
    const files = await rewrite((m) => m.map(([k, v]) => [k, k === 'llama.vocab_size' ? { type: 'u32', value: 999 } : v]));
    const plan = async (f: ModelFiles) => planWeights(await readModelConfig(f), await openCheckpoint(f), 'auto');
    await expect(plan(files)).rejects.toThrow(/model\.gguf: tensor "token_embd\.weight" has shape \[\d+, \d+\], but the GGUF metadata implies \[999, \d+\] \(llama\.vocab_size, llama\.embedding_length\)/);
    const layers = await rewrite((m) => m.map(([k, v]) => [k, k === 'llama.block_count' ? { type: 'u32', value: 3 } : v]));
    await expect(plan(layers)).rejects.toThrow(/tensor "blk\.2\.attn_norm\.weight" is missing; the GGUF metadata describes/);
  });

  it('refuses other architectures and adapters, saying what it runs', async () => {
    await configError(await rewrite((m) => m.map(([k, v]) => [k, k === 'general.architecture' ? { type: 'string', value: 'gemma2' } : v])), '"gemma2"', 'llama, qwen2, qwen3');
    await configError(await rewrite((m) => [...m, ['general.type', { type: 'string', value: 'adapter' }]]), 'LoRA adapter', '--adapter');
  });

  it('refuses IQ/TQ/MXFP4 tensors by name and type, and unknown tensors by name', async () => {
    const { bytes, hf } = await base();
    const g = readGguf(bytes, 'm.gguf', 'compute');
    const iq = writeGguf([...g.metadata], g.tensors);
    // Patch the first matrix's type id to IQ2_XS (17): the header check refuses it by name.
    const first = g.tensors.find((t) => t.dims.length === 2)!;
    const nameBytes = new TextEncoder().encode(first.name);
    let at = 0;
    for (let i = 0; i < iq.length - nameBytes.length; i++) {
      if (nameBytes.every((b, j) => iq[i + j] === b)) {
        at = i + nameBytes.length + 4 + 8 * first.dims.length;
        break;
      }
    }
    new DataView(iq.buffer, iq.byteOffset).setUint32(at, 17, true);
    const e = await readModelConfig(ggufWithTokenizer(iq, hf)).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(TensorError);
    expect((e as Error).message).toContain(first.name);
    expect((e as Error).message).toContain('IQ2_XS');

    const extra = writeGguf([...g.metadata], [...g.tensors, { name: 'blk.0.attn_rot_embd', dims: [4], type: 'F32', data: new Uint8Array(16) }]);
    const e2 = await openCheckpoint(ggufWithTokenizer(extra, hf)).then(() => null, (x: unknown) => x);
    expect((e2 as Error).message).toContain('blk.0.attn_rot_embd');
  });

  it('names the file when it is truncated', async () => {
    const { bytes, hf } = await base();
    const e = await readModelConfig(ggufWithTokenizer(bytes.subarray(0, bytes.length - 100), hf)).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as Error).message).toMatch(/model\.gguf.*truncated/);
  });
});
