// The whole model on the GPU against the float64 CPU reference: logits, loss and greedy tokens,
// for every supported architecture, through the f32 path and the 16-bit paths.

import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/model/evaluate.ts';
import { generateTokens } from '../../src/model/generate.ts';
import { loadReferenceWeights, referenceGreedy, referenceLogits, referenceLoss } from '../../src/model/reference.ts';
import type { TestModelOptions } from '../../src/model/test-model.ts';
import { expectClose, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { engineLogits, loadTestModel } from '../helpers/model.ts';

const ARCHS: TestModelOptions[] = [
  { architecture: 'llama', seed: 1 },
  { architecture: 'llama', seed: 2, ropeScaling: 'llama3', attentionBias: true, mlpBias: true, headDim: 12, tied: false },
  { architecture: 'mistral', seed: 3, slidingWindow: 5 },
  { architecture: 'qwen2', seed: 4, tied: true, shards: 2 },
  { architecture: 'qwen3', seed: 5, headDim: 16, numKvHeads: 1 },
];

function tokens(n: number, V: number, seed: number): number[] {
  return Array.from(randomArray(n, seed), (x) => Math.floor(((x + 1) / 2) * V) % V);
}

/** |a - e| <= rel * max|e| + rel * |e|: relative to the logits' scale, so near-zero logits don't dominate. */
function scaled(expected: Float64Array, rel: number) {
  const scale = expected.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  return { abs: rel * scale, rel };
}

describe.each([
  ['f32', 'F32', 'f32', 1e-4],
  ['bf16', 'BF16', 'auto', 2e-3],
  ['f16', 'F16', 'auto', 2e-3],
] as const)('whole model, %s weights', (_name, dtype, precision, tol) => {
  it.each(ARCHS)('$architecture (seed $seed): logits and loss equal the float64 reference', async (o) => {
    const gpu = await testGpu();
    const { files, model } = await loadTestModel(gpu, { ...o, dtype }, precision);
    const ref = loadReferenceWeights(files);
    const V = model.cfg.vocabSize;
    const seq = tokens(23, V, o.seed ?? 0);
    const want = referenceLogits(model.cfg, ref, seq);
    expectClose(await engineLogits(model, seq), want, scaled(want, tol), `${o.architecture} logits`);

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

describe('evaluation and generation', () => {
  it('loss does not depend on the batch size', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 9, dtype: 'F32' }, 'f32');
    const rows = [5, 12, 3, 20, 8].map((n, i) => ({ inputIds: tokens(n, model.cfg.vocabSize, 100 + i) }));
    const one = await evaluate(model, rows, { batchSize: 1 });
    const three = await evaluate(model, rows, { batchSize: 3 });
    const all = await evaluate(model, rows, { batchSize: 5 });
    expect(one.tokens).toBe(4 + 11 + 2 + 19 + 7);
    expect(three.loss).toBeCloseTo(one.loss, 5);
    expect(all.loss).toBeCloseTo(one.loss, 5);
  });

  it.each(ARCHS)('$architecture: greedy generation with the KV cache equals the reference', async (o) => {
    const gpu = await testGpu();
    const { files, model } = await loadTestModel(gpu, { ...o, dtype: 'F32' }, 'f32');
    const prompt = tokens(6, model.cfg.vocabSize, 55);
    const want = referenceGreedy(model.cfg, loadReferenceWeights(files), prompt, 12);
    const got = await generateTokens(model, prompt, { maxNewTokens: 12 });
    expect(got).toEqual(want);
  });
});
