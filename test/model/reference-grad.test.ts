// The float64 reference backward pass checked against central finite differences of referenceLoss,
// for LoRA gradients (every module kind, A and B) and full fine-tuning gradients (every tensor),
// on every architecture; plus the structural LoRA facts (B = 0 gives dA = 0 and dB = s dW A^T) and
// the loss convention (mean over all target tokens of all rows).
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
const SAMPLES = 20;

function model(o: TestModelOptions): { cfg: ModelConfig; w: WeightLookup } {
  const files = makeTestModel(o);
  return { cfg: parseModelConfig(new TextDecoder().decode(files.get('config.json'))), w: loadReferenceWeights(files) };
}

function randomLora(cfg: ModelConfig, rank: number, scaling: number, seed: number, bScale = 0.2, extraModules: { name: string; nIn: number; nOut: number }[] = []): ReferenceLora {
  const rand = seededRandom(seed);
  const fill = (n: number, s: number) => Float64Array.from({ length: n }, () => s * (2 * rand() - 1));
  const a = new Map<string, Float64Array>();
  const b = new Map<string, Float64Array>();
  const mods = [...extraModules];
  for (let l = 0; l < cfg.numLayers; l++) {
    for (const m of LINEAR_MODULES) {
      const [nOut, nIn] = linearShape(cfg, m);
      mods.push({ name: linearName(l, m), nIn, nOut });
    }
  }
  for (const { name, nIn, nOut } of mods) {
    a.set(name, fill(rank * nIn, 1 / Math.sqrt(nIn)));
    b.set(name, fill(nOut * rank, bScale));
  }
  return { scaling, rank, a, b };
}

/** The two rows every case uses: 9 tokens with some ignored labels, and 6 tokens. */
const ROWS: Rows = [
  { inputIds: [3, 150, 42, 260, 9, 9, 311, 77, 5], labels: [-100, -100, 42, 260, -100, 9, 311, 77, 5] },
  { inputIds: [12, 200, 7, 7, 180, 33] },
];


const LORA_CASES: [string, TestModelOptions][] = [
  ['llama', { architecture: 'llama' }],
  ['llama, llama3 rope, attention + mlp bias, head dim 12', { architecture: 'llama', ropeScaling: 'llama3', attentionBias: true, mlpBias: true, headDim: 12 }],
  ['mistral, sliding window 3', { architecture: 'mistral', slidingWindow: 3 }],
  ['qwen2, tied', { architecture: 'qwen2', tied: true }],
  ['qwen3, nKV = 1', { architecture: 'qwen3', numKvHeads: 1 }],
];

const BASE: Partial<TestModelOptions> = { hiddenSize: 24, intermediateSize: 40, numLayers: 2, numHeads: 4, numKvHeads: 2 };

describe('referenceLoraGrads matches finite differences of referenceLoss', () => {
  it.each(LORA_CASES)('%s: every module of every layer, A and B', (_label, o) => {
    const { cfg, w } = model({ ...BASE, ...o });
    const lora = randomLora(cfg, o.architecture === 'qwen3' ? 3 : 2, 1.75, 7);
    const got = referenceLoraGrads(cfg, w, ROWS, lora);
    const ref = referenceLoss(cfg, w, ROWS, lora);
    expect(got.tokens).toBe(ref.tokens);
    expect(got.tokens).toBe(6 + 5);
    expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-12);
    expect([...got.gradA.keys()]).toEqual([...lora.a.keys()]);
    expect([...got.gradB.keys()]).toEqual([...lora.b.keys()]);

    const rand = seededRandom(99);
    const loss = () => referenceLoss(cfg, w, ROWS, lora).loss;
    const check: Check = { worst: 0, where: '', count: 0 };
    for (const [name, A] of lora.a) compare(check, `${name}.A`, A, got.gradA.get(name)!, sampleIndices(A.length, SAMPLES, rand), loss);
    for (const [name, B] of lora.b) compare(check, `${name}.B`, B, got.gradB.get(name)!, sampleIndices(B.length, SAMPLES, rand), loss);
    console.log(`lora fd ${_label}: ${check.count} entries, worst rel ${check.worst.toExponential(2)} at ${check.where}`);
    expect(check.worst, check.where).toBeLessThanOrEqual(TOL);
  });

  it('a LoRA on the LM head too, one row, single-layer llama', () => {
    const { cfg, w } = model({ ...BASE, architecture: 'llama', numLayers: 1 });
    const lora = randomLora(cfg, 2, 0.5, 3, 0.2, [{ name: 'lm_head', nIn: cfg.hiddenSize, nOut: cfg.vocabSize }]);
    const rows: Rows = [{ inputIds: [5, 17, 300, 2, 64, 9, 41] }];
    const got = referenceLoraGrads(cfg, w, rows, lora);
    const rand = seededRandom(5);
    const loss = () => referenceLoss(cfg, w, rows, lora).loss;
    const check: Check = { worst: 0, where: '', count: 0 };
    for (const name of ['lm_head', linearName(0, 'q_proj'), linearName(0, 'down_proj')]) {
      compare(check, `${name}.A`, lora.a.get(name)!, got.gradA.get(name)!, sampleIndices(lora.a.get(name)!.length, SAMPLES, rand), loss);
      compare(check, `${name}.B`, lora.b.get(name)!, got.gradB.get(name)!, sampleIndices(lora.b.get(name)!.length, SAMPLES, rand), loss);
    }
    console.log(`lora fd lm_head: ${check.count} entries, worst rel ${check.worst.toExponential(2)} at ${check.where}`);
    expect(check.worst, check.where).toBeLessThanOrEqual(TOL);
  });
});

describe('referenceFullGrads matches finite differences of referenceLoss', () => {
  const cases: [string, TestModelOptions][] = [
    ['llama, untied, attention + mlp bias, llama3 rope', { architecture: 'llama', attentionBias: true, mlpBias: true, ropeScaling: 'llama3' }],
    ['mistral, sliding window 3', { architecture: 'mistral', slidingWindow: 3 }],
    ['qwen2, tied', { architecture: 'qwen2', tied: true }],
    ['qwen3, nKV = 1, head dim 12', { architecture: 'qwen3', numKvHeads: 1, headDim: 12 }],
  ];

  it.each(cases)('%s: every tensor of modelParams', (_label, o) => {
    const { cfg, w } = model({ ...BASE, ...o });
    const got = referenceFullGrads(cfg, w, ROWS);
    const ref = referenceLoss(cfg, w, ROWS);
    expect(got.tokens).toBe(ref.tokens);
    expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-12);
    const params = modelParams(cfg);
    expect([...got.grads.keys()]).toEqual(params.map((p) => p.name));

    const rand = seededRandom(11);
    const loss = () => referenceLoss(cfg, w, ROWS).loss;
    const check: Check = { worst: 0, where: '', count: 0 };
    const H = cfg.hiddenSize;
    const used = [...new Set(ROWS.flatMap((r) => r.inputIds))];
    for (const { name } of params) {
      const t = w(name)!; // loadReferenceWeights hands out its own arrays: perturbing t moves the model
      const g = got.grads.get(name)!;
      let idx = sampleIndices(t.length, SAMPLES, rand);
      if (name === 'model.embed_tokens.weight') {
        // Rows of tokens in the input carry the embedding path; random rows mostly carry only the
        // tied head (or nothing when untied).
        idx = [...idx.slice(0, SAMPLES / 2), ...sampleIndices(used.length * H, SAMPLES / 2, rand).map((j) => used[Math.floor(j / H)]! * H + (j % H))];
      }
      compare(check, name, t, g, idx, loss);
      expect(g.some((v) => v !== 0), `${name} has a nonzero gradient`).toBe(true);
    }
    console.log(`full fd ${_label}: ${check.count} entries, worst rel ${check.worst.toExponential(2)} at ${check.where}`);
    expect(check.worst, check.where).toBeLessThanOrEqual(TOL);
  });

  it('tied: the embedding gradient carries the LM head, so unused token rows are nonzero; untied: they are zero', () => {
    const rows: Rows = [{ inputIds: [3, 150, 42, 260, 9] }];
    const unused = 100; // not in rows
    for (const tied of [true, false]) {
      const { cfg, w } = model({ ...BASE, architecture: 'qwen2', numLayers: 1, tied });
      const g = referenceFullGrads(cfg, w, rows).grads.get('model.embed_tokens.weight')!;
      const rowGrad = g.subarray(unused * cfg.hiddenSize, (unused + 1) * cfg.hiddenSize);
      if (tied) expect(rowGrad.some((v) => v !== 0)).toBe(true);
      else expect(rowGrad.every((v) => v === 0)).toBe(true);
    }
  });
});

describe('LoRA structure', () => {
  it('B = 0: dA is exactly zero, dB is nonzero and equals scaling * dW A^T from the full gradient', () => {
    const { cfg, w } = model({ ...BASE, architecture: 'qwen3', numKvHeads: 1 });
    const lora = randomLora(cfg, 3, 2.5, 21, 0);
    const got = referenceLoraGrads(cfg, w, ROWS, lora);
    const full = referenceFullGrads(cfg, w, ROWS);
    expect(Math.abs(got.loss - full.loss)).toBeLessThan(1e-12); // B = 0 leaves the model unchanged
    const r = lora.rank;
    for (const [name, A] of lora.a) {
      expect(got.gradA.get(name)!.every((v) => v === 0), `${name} dA`).toBe(true);
      const dB = got.gradB.get(name)!; // dB: [out, r]
      expect(dB.some((v) => v !== 0), `${name} dB`).toBe(true);
      const dW = full.grads.get(`${name}.weight`)!; // dW: [out, in]
      const nIn = A.length / r;
      const nOut = dB.length / r;
      let worst = 0;
      let scale = 0;
      for (let o = 0; o < nOut; o++) {
        for (let k = 0; k < r; k++) {
          let want = 0;
          for (let i = 0; i < nIn; i++) want += dW[o * nIn + i]! * A[k * nIn + i]!;
          want *= lora.scaling;
          worst = Math.max(worst, Math.abs(dB[o * r + k]! - want));
          scale = Math.max(scale, Math.abs(want));
        }
      }
      expect(worst, name).toBeLessThan(1e-12 * Math.max(1, scale));
    }
  });

  it('the loss and gradients are the mean over all target tokens, not a mean of row means', () => {
    const { cfg, w } = model({ ...BASE, architecture: 'mistral', slidingWindow: 3, numLayers: 1 });
    const lora = randomLora(cfg, 2, 1.5, 4);
    const both = referenceLoraGrads(cfg, w, ROWS, lora);
    const parts = ROWS.map((row) => referenceLoraGrads(cfg, w, [row], lora));
    const n = parts.map((p) => p.tokens);
    expect(n).toEqual([6, 5]);
    expect(both.tokens).toBe(n[0]! + n[1]!);
    const weighted = (a: number, b: number) => (n[0]! * a + n[1]! * b) / both.tokens;
    expect(both.loss).toBeCloseTo(weighted(parts[0]!.loss, parts[1]!.loss), 12);
    for (const [name, g] of both.gradA) {
      const g0 = parts[0]!.gradA.get(name)!;
      const g1 = parts[1]!.gradA.get(name)!;
      g.forEach((v, i) => expect(Math.abs(v - weighted(g0[i]!, g1[i]!))).toBeLessThan(1e-14));
    }
  });

  it('rows with no target tokens give NaN loss and zero gradients', () => {
    const { cfg, w } = model({ ...BASE, architecture: 'llama', numLayers: 1 });
    const lora = randomLora(cfg, 2, 1, 8);
    const got = referenceLoraGrads(cfg, w, [{ inputIds: [1, 2, 3], labels: [1, -100, -100] }], lora);
    expect(got.tokens).toBe(0);
    expect(got.loss).toBeNaN();
    for (const g of [...got.gradA.values(), ...got.gradB.values()]) expect(g.every((v) => v === 0)).toBe(true);
  });
});
