// Gemma 3 on the GPU against the float64 CPU reference: logits, loss and greedy tokens through the
// f32 and 16-bit paths, with sliding and full layers (windows shorter than the sequences), each config
// form transformers writes, both softcaps, Gemma3ForConditionalGeneration checkpoints (both naming
// schemes), the bf16-rounded embedding scale, the KV cache decoding token by token past the window,
// and a 262144-token vocabulary whose embedding and LM head come in several chunks.
// Dimension key: T = tokens, V = vocab, H = hidden.

import { describe, expect, it } from 'vitest';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { uploadBuffer } from '../../src/gpu/recorder.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { evaluate } from '../../src/model/evaluate.ts';
import { allocKvCache, encodeForward, releaseKvCache } from '../../src/model/forward.ts';
import { generateTokens } from '../../src/model/generate.ts';
import { rowLogits } from '../../src/model/lm-head.ts';
import { forwardContext, type LoadedModel, loadModel } from '../../src/model/model.ts';
import { loadReferenceWeights, referenceGreedy, referenceLogits, referenceLoss } from '../../src/model/reference.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import { expectClose, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { engineLogits, loadTestModel } from '../helpers/model.ts';

function tokens(n: number, V: number, seed: number): number[] {
  return Array.from(randomArray(n, seed), (x) => Math.floor(((x + 1) / 2) * V) % V);
}

/** |a - e| <= rel * max|e| + rel * |e|, as engine.test.ts compares logits. */
function scaled(expected: Float64Array, rel: number) {
  const scale = expected.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  return { abs: rel * scale, rel };
}

// Six layers: 0-4 slide with a window of 4, layer 5 attends to everything; sequences are longer.
const BASE: TestModelOptions = { architecture: 'gemma3', numLayers: 6, slidingWindow: 4 };

const VARIANTS: [string, TestModelOptions][] = [
  ['4.50 config, tied', { ...BASE, seed: 1 }],
  ['4.55 config (layer_types), linear rope, nKV = 1, head dim 16', { ...BASE, seed: 2, layerTypes: true, ropeScaling: 'linear', numKvHeads: 1, headDim: 16 }],
  ['5.x config (rope_parameters), both softcaps, untied, attention bias', { ...BASE, seed: 3, ropeParameters: true, attnLogitSoftcap: 2.5, finalLogitSoftcap: 6, tied: false, attentionBias: true }],
  ['pattern 3 (two full layers), window 3', { ...BASE, seed: 4, slidingWindowPattern: 3, slidingWindow: 3 }],
];

describe.each([
  ['f32', 'F32', 'f32', 1e-4],
  ['bf16', 'BF16', 'auto', 2e-3],
  ['f16', 'F16', 'auto', 2e-3],
] as const)('Gemma 3, %s weights', (_name, dtype, precision, tol) => {
  it.each(VARIANTS)('%s: logits and loss equal the float64 reference', async (_label, o) => {
    const gpu = await testGpu();
    const { files, model } = await loadTestModel(gpu, { ...o, dtype }, precision);
    const ref = loadReferenceWeights(files);
    const V = model.cfg.vocabSize;
    const seq = tokens(23, V, o.seed ?? 0);
    const want = referenceLogits(model.cfg, ref, seq);
    expectClose(await engineLogits(model, seq), want, scaled(want, tol), 'logits');
    const rows = [
      { inputIds: seq },
      { inputIds: tokens(9, V, 77), labels: tokens(9, V, 77).map((t, i) => (i % 3 === 0 ? -100 : t)) },
      { inputIds: tokens(17, V, 78) },
    ];
    const refLoss = referenceLoss(model.cfg, ref, rows);
    const got = await evaluate(model, rows, { batchSize: 2 });
    expect(got.tokens).toBe(refLoss.tokens);
    expect(Math.abs(got.loss - refLoss.loss)).toBeLessThanOrEqual(tol * Math.abs(refLoss.loss));
  });
});

describe('Gemma 3 checkpoints', () => {
  it.each(['old', 'new'] as const)('Gemma3ForConditionalGeneration (%s tensor names, vision tower skipped) computes the text model', async (form) => {
    const gpu = await testGpu();
    const o: TestModelOptions = { ...BASE, seed: 5, dtype: 'BF16' };
    const { model } = await loadTestModel(gpu, { ...o, multimodal: form }, 'auto');
    expect(model.cfg.hfArchitecture).toBe('Gemma3ForConditionalGeneration');
    const plain = makeTestModel(o);
    const cfg = parseModelConfig(new TextDecoder().decode(plain.get('config.json')));
    const seq = tokens(15, cfg.vocabSize, 6);
    const want = referenceLogits(cfg, loadReferenceWeights(plain), seq);
    expectClose(await engineLogits(model, seq), want, scaled(want, 2e-3), 'logits');
  });

  it("scales the embeddings by sqrt(H) rounded to the embedding's dtype, whatever torch_dtype says", async () => {
    const gpu = await testGpu();
    // sqrt(40) = 6.3246 is 6.3125 in bf16.
    const o: TestModelOptions = { ...BASE, seed: 7, numLayers: 2, hiddenSize: 40, headDim: 8, dtype: 'BF16' };
    const files = makeTestModel(o);
    const config = JSON.parse(new TextDecoder().decode(files.get('config.json'))) as Record<string, unknown>;
    files.set('config.json', new TextEncoder().encode(JSON.stringify({ ...config, torch_dtype: 'float32' })));
    expect(parseModelConfig(new TextDecoder().decode(files.get('config.json'))).embedScale).toBe(Math.fround(Math.sqrt(40)));
    const model = await loadModel(gpu, memoryFiles('gemma-bf16', files));
    expect(model.cfg.embedScale).toBe(6.3125);
    const seq = tokens(11, model.cfg.vocabSize, 8);
    const want = referenceLogits(model.cfg, loadReferenceWeights(files), seq);
    expectClose(await engineLogits(model, seq), want, scaled(want, 2e-3), 'logits');
    // An engine that skipped the rounding would be off by more than the tolerance.
    const exact = referenceLogits({ ...model.cfg, embedScale: Math.sqrt(40) }, loadReferenceWeights(files), seq);
    expect(Math.max(...exact.map((v, i) => Math.abs(v - want[i]!)))).toBeGreaterThan(1e-2);
  });
});

/** Logits of every position, decoding one token at a time through the KV cache after a prompt of `prefill`. */
async function incrementalLogits(model: LoadedModel, seq: number[], prefill: number): Promise<Float64Array> {
  const gpu = model.gpu;
  const V = model.cfg.vocabSize;
  const cache = allocKvCache(gpu, model.cfg, 1, seq.length);
  const out = new Float64Array(seq.length * V);
  let p0 = 0;
  for (const chunk of [seq.slice(0, prefill), ...seq.slice(prefill).map((t) => [t])]) {
    const ids = uploadBuffer(gpu, Uint32Array.from(chunk), 'ids');
    const hidden = encodeForward(forwardContext(model), { ids, B: 1, T: chunk.length, p0, cache });
    for (let t = 0; t < chunk.length; t++) out.set(await rowLogits(gpu, model.weights.lmHead, hidden, t, model.cfg.finalLogitSoftcap), (p0 + t) * V);
    for (const b of [ids, hidden]) gpu.pool.release(b);
    p0 += chunk.length;
  }
  releaseKvCache(gpu, cache);
  return out;
}

describe('Gemma 3 generation', () => {
  it.each(VARIANTS)('%s: decoding through the KV cache equals one full pass at every position, past the window too', async (_label, o) => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { ...o, dtype: 'F32' }, 'f32');
    const seq = tokens(14, model.cfg.vocabSize, 31);
    const full = await engineLogits(model, seq);
    const step = await incrementalLogits(model, seq, 3);
    expectClose(step, full, scaled(full, 1e-5), 'incremental vs one pass');
  });

  it.each(VARIANTS)('%s: greedy generation with the KV cache equals the reference', async (_label, o) => {
    const gpu = await testGpu();
    const { files, model } = await loadTestModel(gpu, { ...o, dtype: 'F32' }, 'f32');
    const prompt = tokens(6, model.cfg.vocabSize, 55);
    const want = referenceGreedy(model.cfg, loadReferenceWeights(files), prompt, 10);
    expect(await generateTokens(model, prompt, { maxNewTokens: 10 })).toEqual(want);
  });
});

describe("Gemma 3's 262144-token vocabulary", () => {
  it('the embedding and the tied LM head in several chunks give the reference logits and loss', async () => {
    const real = await testGpu();
    // 4 MiB bindings: the f32 [262144, 16] table (16 MiB) is uploaded in chunks of 65536 rows.
    const gpu: Gpu = { ...real, limits: { ...real.limits, maxStorageBufferBindingSize: 4 << 20 } };
    const o: TestModelOptions = { architecture: 'gemma3', seed: 9, dtype: 'F32', vocabSize: 262144, hiddenSize: 16, intermediateSize: 24, numHeads: 2, numKvHeads: 1, headDim: 8, numLayers: 2, slidingWindowPattern: 2, slidingWindow: 3 };
    const { files, model } = await loadTestModel(gpu, o, 'f32');
    expect(model.weights.embed.chunks.length).toBe(4);
    expect(model.weights.lmHead).toBe(model.weights.embed);
    const ref = loadReferenceWeights(files);
    // Ids in every chunk, the last one included.
    const seq = [5, 70000, 262143, 140000, 65535, 65536, 200000, 9, 131072, 196608];
    const want = referenceLogits(model.cfg, ref, seq);
    expectClose(await engineLogits(model, seq), want, scaled(want, 1e-4), 'logits');
    const rows = [{ inputIds: seq }, { inputIds: seq.slice(2, 9).reverse() }];
    const refLoss = referenceLoss(model.cfg, ref, rows);
    const got = await evaluate(model, rows, { batchSize: 1 });
    expect(got.tokens).toBe(refLoss.tokens);
    expect(Math.abs(got.loss - refLoss.loss)).toBeLessThanOrEqual(1e-4 * refLoss.loss);
  });
});
