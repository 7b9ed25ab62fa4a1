// The float64 reference backward pass on Gemma 3 against central finite differences of
// referenceLoss: LoRA gradients (every module, A and B) and full fine-tuning gradients (every tensor,
// the four norms per layer and the (1 + w) q/k norms included), with sliding and full layers whose
// RoPE bases differ, the embedding scale, GeGLU, and both softcaps. Tolerances are those of
// reference-grad.test.ts.
// Dimension key: T = tokens, V = vocab, H = hidden, r = LoRA rank.

import { describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../../src/model/config.ts';
import { LINEAR_MODULES, linearName, linearShape, modelParams } from '../../src/model/params.ts';
import { loadReferenceWeights, referenceLoss, type ReferenceLora, type WeightLookup } from '../../src/model/reference.ts';
import { referenceFullGrads, referenceLoraGrads } from '../../src/model/reference-grad.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import { seededRandom } from '../../src/util/random.ts';
import { type Check, compare, sampleIndices } from '../helpers/finite-diff.ts';

type Rows = { inputIds: number[]; labels?: number[] }[];

const TOL = 1e-5;
const SAMPLES = 12;

function model(o: TestModelOptions): { cfg: ModelConfig; w: WeightLookup } {
  const files = makeTestModel(o);
  return { cfg: parseModelConfig(new TextDecoder().decode(files.get('config.json'))), w: loadReferenceWeights(files) };
}

function randomLora(cfg: ModelConfig, rank: number, scaling: number, seed: number): ReferenceLora {
  const rand = seededRandom(seed);
  const fill = (n: number, s: number) => Float64Array.from({ length: n }, () => s * (2 * rand() - 1));
  const a = new Map<string, Float64Array>();
  const b = new Map<string, Float64Array>();
  for (let l = 0; l < cfg.numLayers; l++) {
    for (const m of LINEAR_MODULES) {
      const [nOut, nIn] = linearShape(cfg, m);
      a.set(linearName(l, m), fill(rank * nIn, 1 / Math.sqrt(nIn)));
      b.set(linearName(l, m), fill(nOut * rank, 0.2));
    }
  }
  return { scaling, rank, a, b };
}

/** Rows longer than the window (3), one with ignored labels. */
const ROWS: Rows = [
  { inputIds: [3, 150, 42, 260, 9, 9, 311, 77, 5], labels: [-100, -100, 42, 260, -100, 9, 311, 77, 5] },
  { inputIds: [12, 200, 7, 7, 180, 33] },
];


// Three layers, pattern 3: layers 0 and 1 slide (window 3), layer 2 attends to everything.
const BASE: TestModelOptions = { architecture: 'gemma3', hiddenSize: 24, intermediateSize: 40, numLayers: 3, numHeads: 4, numKvHeads: 2, slidingWindow: 3, slidingWindowPattern: 3 };

const CASES: [string, TestModelOptions][] = [
  ['gemma3, tied, sliding + full layers', BASE],
  ['gemma3, both softcaps, linear rope, untied, attention bias', { ...BASE, attnLogitSoftcap: 2, finalLogitSoftcap: 3, ropeScaling: 'linear', tied: false, attentionBias: true, numKvHeads: 1, headDim: 12 }],
];

describe('Gemma 3: referenceLoraGrads matches finite differences of referenceLoss', () => {
  it.each(CASES)('%s: every module of every layer, A and B', (label, o) => {
    const { cfg, w } = model(o);
    expect(cfg.layerAttention).toEqual(['sliding', 'sliding', 'full']);
    const lora = randomLora(cfg, 2, 1.75, 7);
    const got = referenceLoraGrads(cfg, w, ROWS, lora);
    const ref = referenceLoss(cfg, w, ROWS, lora);
    expect(got.tokens).toBe(6 + 5);
    expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-12);
    const rand = seededRandom(99);
    const loss = () => referenceLoss(cfg, w, ROWS, lora).loss;
    const check: Check = { worst: 0, where: '', count: 0 };
    for (const [name, A] of lora.a) compare(check, `${name}.A`, A, got.gradA.get(name)!, sampleIndices(A.length, SAMPLES, rand), loss);
    for (const [name, B] of lora.b) compare(check, `${name}.B`, B, got.gradB.get(name)!, sampleIndices(B.length, SAMPLES, rand), loss);
    console.log(`lora fd ${label}: ${check.count} entries, worst rel ${check.worst.toExponential(2)} at ${check.where}`);
    expect(check.worst, check.where).toBeLessThanOrEqual(TOL);
  });
});

describe('Gemma 3: referenceFullGrads matches finite differences of referenceLoss', () => {
  it.each(CASES)('%s: every tensor of modelParams', (label, o) => {
    const { cfg, w } = model(o);
    const got = referenceFullGrads(cfg, w, ROWS);
    expect(Math.abs(got.loss - referenceLoss(cfg, w, ROWS).loss)).toBeLessThan(1e-12);
    const params = modelParams(cfg);
    expect(params.some((p) => p.name.endsWith('post_feedforward_layernorm.weight'))).toBe(true);
    expect([...got.grads.keys()]).toEqual(params.map((p) => p.name));
    const rand = seededRandom(11);
    const loss = () => referenceLoss(cfg, w, ROWS).loss;
    const check: Check = { worst: 0, where: '', count: 0 };
    const H = cfg.hiddenSize;
    const used = [...new Set(ROWS.flatMap((r) => r.inputIds))];
    for (const { name } of params) {
      const t = w(name)!;
      const g = got.grads.get(name)!;
      let idx = sampleIndices(t.length, SAMPLES, rand);
      if (name === 'model.embed_tokens.weight') {
        // Rows of input tokens carry the scaled embedding path as well as the tied head.
        idx = [...idx.slice(0, SAMPLES / 2), ...sampleIndices(used.length * H, SAMPLES / 2, rand).map((j) => used[Math.floor(j / H)]! * H + (j % H))];
      }
      compare(check, name, t, g, idx, loss);
      expect(g.some((v) => v !== 0), `${name} has a nonzero gradient`).toBe(true);
    }
    console.log(`full fd ${label}: ${check.count} entries, worst rel ${check.worst.toExponential(2)} at ${check.where}`);
    expect(check.worst, check.where).toBeLessThanOrEqual(TOL);
  });
});
