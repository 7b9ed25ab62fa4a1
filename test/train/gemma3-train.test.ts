// Training Gemma 3 on the GPU: every LoRA A/B gradient against the float64 reference backward (itself
// checked by finite differences), with and without activation checkpointing, f32 and bf16, with
// both softcaps, with adapters on a few modules only (the backward stopping early through the
// post-norms), over a 262144-token vocabulary whose loss walks several logits blocks; a packed row;
// full fine-tuning (every tensor, the (1 + w) norms written back as w); and a few steps that lower the
// loss, with evaluation.
// Dimension key: T = tokens, V = vocab, H = hidden, r = LoRA rank.

import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import { readF32 } from '../../src/gpu/recorder.ts';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { DEFAULT_LORA, initLora, parseTargets } from '../../src/lora/config.ts';
import { evaluate, type TokenRow } from '../../src/model/evaluate.ts';
import { logitsBlockCount } from '../../src/model/lm-head.ts';
import { loadReferenceWeights } from '../../src/model/reference.ts';
import { referenceFullGrads, referenceLoraGrads } from '../../src/model/reference-grad.ts';
import type { TestModelOptions } from '../../src/model/test-model.ts';
import { readFullWeights } from '../../src/train/full-export.ts';
import { batchTargets, microStep } from '../../src/train/graph.ts';
import { datasetGradients, readLoraGrads } from '../../src/train/gradients.ts';
import { DEFAULT_TRAIN, train } from '../../src/train/trainer.ts';
import { fullTrainable, loraTrainable } from '../../src/train/trainable.ts';
import { randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { randomLora } from '../helpers/lora.ts';
import { loadTestModel } from '../helpers/model.ts';

// Six layers: 0-4 slide with a window of 4, layer 5 attends to everything; rows are longer.
const BASE: TestModelOptions = { architecture: 'gemma3', numLayers: 6, slidingWindow: 4 };

const ROWS = [
  { inputIds: [5, 17, 200, 33, 9, 120, 64, 3, 77, 12, 301] },
  { inputIds: [40, 41, 42, 43, 44, 45, 46], labels: [-100, -100, -100, 43, 44, 45, 46] },
  { inputIds: [1, 300, 2, 250, 251] },
];

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Largest |got - want| relative to the tensor's largest |want|. */
function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i]! - want[i]!));
  return e / Math.max(maxAbs(want), 1e-12);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

/** The engine's LoRA gradients and loss on `rows` against the reference, with grads.test.ts's tolerances. */
async function checkLoraGrads(gpu: Gpu, o: TestModelOptions, precision: 'f32' | 'auto', rows: TokenRow[], checkpointing: boolean, keep?: (name: string) => boolean): Promise<void> {
  const { files, model } = await loadTestModel(gpu, o, precision);
  const { weights, ref } = randomLora(model.cfg, 3, 1.5, 100 + (o.seed ?? 0));
  for (const name of [...weights.modules.keys()]) {
    if (!keep || keep(name)) continue;
    weights.modules.delete(name);
    ref.a.delete(name);
    ref.b.delete(name);
  }
  const trainable = loraTrainable(gpu, weights);
  const got = await datasetGradients(model, trainable, rows, { seqLen: 64, batchSize: 2, checkpointing });
  const grads = await readLoraGrads(model, trainable, weights);
  const want = referenceLoraGrads(model.cfg, loadReferenceWeights(files), rows, ref);
  const exact = precision === 'f32';
  expect(got.tokens).toBe(want.tokens);
  expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(exact ? 1e-5 : 2e-3);
  const report: string[] = [];
  for (const [module, g] of grads) {
    for (const [which, gg, ww] of [['A', g.a, want.gradA.get(module)!], ['B', g.b, want.gradB.get(module)!]] as const) {
      expect(maxAbs(ww), `${module}.${which} reference gradient is not zero`).toBeGreaterThan(0);
      if (exact) {
        const e = relError(gg, ww);
        if (e > 1e-3) report.push(`${module}.lora_${which}: relative error ${e.toExponential(2)}`);
      } else {
        const c = cosine(gg, ww);
        if (c < 0.999) report.push(`${module}.lora_${which}: cosine ${c.toFixed(5)}`);
      }
    }
  }
  expect(grads.size).toBe(weights.modules.size);
  expect(report, report.join('\n')).toEqual([]);
}

const VARIANTS: [string, TestModelOptions][] = [
  ['tied, 4.50 config', { ...BASE, seed: 61 }],
  ['both softcaps, linear rope, untied, attention bias, nKV = 1, head dim 16', { ...BASE, seed: 62, attnLogitSoftcap: 2.5, finalLogitSoftcap: 6, ropeScaling: 'linear', tied: false, attentionBias: true, numKvHeads: 1, headDim: 16 }],
];

describe('Gemma 3 LoRA gradients against the float64 reference', () => {
  it.each(VARIANTS)('%s: f32, checkpointing on and off, every lora_A and lora_B', async (_label, o) => {
    const gpu = await testGpu();
    for (const checkpointing of [true, false]) await checkLoraGrads(gpu, { ...o, dtype: 'F32' }, 'f32', ROWS, checkpointing);
  });

  it.each(VARIANTS)('%s: bf16 weights', async (_label, o) => {
    const gpu = await testGpu();
    await checkLoraGrads(gpu, { ...o, dtype: 'BF16' }, 'auto', ROWS, true);
  });

  it.each([
    ['layer 1 o_proj only (through post_attention_layernorm)', (n: string) => n === 'model.layers.1.self_attn.o_proj'],
    ['layer 4 MLP only (through post_feedforward_layernorm)', (n: string) => n.startsWith('model.layers.4.mlp.')],
    ['layer 0 v_proj and layer 5 q_proj', (n: string) => n === 'model.layers.0.self_attn.v_proj' || n === 'model.layers.5.self_attn.q_proj'],
  ] as const)('adapters on %s', async (_label, keep) => {
    const gpu = await testGpu();
    await checkLoraGrads(gpu, { ...BASE, seed: 63, dtype: 'F32', finalLogitSoftcap: 6 }, 'f32', ROWS.slice(0, 2), true, keep);
  });

  it('over a 262144-token vocabulary whose loss walks several logits blocks (the second pass caps again)', async () => {
    const real = await testGpu();
    // 4 MiB bindings: the f32 [262144, 16] head comes in four chunks, so the loss takes two passes.
    const gpu: Gpu = { ...real, limits: { ...real.limits, maxStorageBufferBindingSize: 4 << 20 } };
    const o: TestModelOptions = {
      architecture: 'gemma3', seed: 64, dtype: 'F32', vocabSize: 262144, hiddenSize: 16, intermediateSize: 24, numHeads: 2,
      numKvHeads: 1, headDim: 8, numLayers: 2, slidingWindowPattern: 2, slidingWindow: 3, finalLogitSoftcap: 5,
    };
    const rows = [{ inputIds: [5, 70000, 262143, 140000, 65535, 65536, 200000, 9] }, { inputIds: [131072, 196608, 3, 250000, 4] }];
    const { model } = await loadTestModel(gpu, o, 'f32');
    expect(logitsBlockCount(gpu, model.weights.lmHead, 2 * 8)).toBeGreaterThan(1);
    await checkLoraGrads(gpu, o, 'f32', rows, true);
  });
});

describe('Gemma 3 packing', () => {
  it('a packed row has the loss and LoRA gradients of its documents run one by one', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { ...BASE, seed: 65, dtype: 'F32' }, 'f32');
    const docs = [7, 5, 9].map((n, i) => Array.from(randomArray(n, 70 + i), (x) => 3 + Math.floor((x + 1) * 190)));
    const packed: TokenRow = {
      inputIds: docs.flat(),
      labels: docs.flatMap((d, k) => d.map((id, t) => (k > 0 && t === 0 ? -100 : id))),
      positionIds: docs.flatMap((d) => d.map((_, t) => t)),
    };
    const separate = docs.map((d) => ({ inputIds: d }));
    const a = await evaluate(model, [packed]);
    const b = await evaluate(model, separate);
    expect(a.tokens).toBe(b.tokens);
    expect(a.loss).toBeCloseTo(b.loss, 5);
    const { weights } = randomLora(model.cfg, 2, 1.5, 5);
    const grads = async (rows: TokenRow[]) => {
      const t = loraTrainable(gpu, weights);
      await datasetGradients(model, t, rows, { seqLen: 64, batchSize: 4 });
      return readLoraGrads(model, t, weights);
    };
    const gp = await grads([packed]);
    for (const [name, g] of await grads(separate)) {
      const p = gp.get(name)!;
      const scale = Math.max(...g.a.map(Math.abs), ...g.b.map(Math.abs));
      const err = Math.max(...g.a.map((x, i) => Math.abs(x - p.a[i]!)), ...g.b.map((x, i) => Math.abs(x - p.b[i]!)));
      expect(err, name).toBeLessThan(1e-4 * scale);
    }
  });
});

describe('Gemma 3 full fine-tuning', () => {
  it('every weight, norm and (scaled) embedding gradient equals the reference; the norms export as w', async () => {
    const gpu = await testGpu();
    const o: TestModelOptions = { ...BASE, seed: 66, dtype: 'F32', numLayers: 3, slidingWindowPattern: 3, finalLogitSoftcap: 6, attnLogitSoftcap: 3 };
    const { files, model } = await loadTestModel(gpu, o, 'f32');
    const trainable = fullTrainable(gpu, model.weights);
    const rows = ROWS.slice(0, 2);
    const batch = batchTargets(rows.map((r) => ({ ids: r.inputIds, labels: r.labels ?? r.inputIds })), 11);
    const tokens = batch.targets.filter((t) => t !== -100).length;
    const r = microStep(model, trainable, batch, { lossScale: 1 / tokens, dropout: 0, dropoutSeed: 0, checkpointing: true });
    gpu.pool.release(r.state);
    const ref = loadReferenceWeights(files);
    const want = referenceFullGrads(model.cfg, ref, rows);
    const bad: string[] = [];
    for (const t of trainable.tensors) {
      const w = want.grads.get(t.name);
      expect(w, t.name).toBeDefined();
      const got = await readF32(gpu, t.grad, 0, t.n);
      const err = relError(got, w!);
      if (err > 1e-3) bad.push(`${t.name}: relative error ${err.toExponential(2)}`);
    }
    expect(trainable.tensors.length).toBe(want.grads.size);
    expect(bad, bad.join('\n')).toEqual([]);
    // Nothing was updated: the exported norms are the checkpoint's offsets again (up to f32 rounding of 1 + w).
    const out = await readFullWeights(model, trainable, memoryFiles('base', files));
    const back = loadReferenceWeights(out);
    for (const name of ['model.layers.0.post_feedforward_layernorm.weight', 'model.layers.2.self_attn.q_norm.weight', 'model.norm.weight']) {
      const a = back(name)!;
      const b = ref(name)!;
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!))), name).toBeLessThan(1e-7);
      expect(maxAbs(b), name).toBeGreaterThan(0.01);
    }
  });
});

describe('Gemma 3 LoRA training', () => {
  it('a few steps lower the loss of a small set, and evaluation sees the trained adapter', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { ...BASE, seed: 67, dtype: 'BF16', hiddenSize: 64, headDim: 16, finalLogitSoftcap: 30 }, 'auto');
    const data = Array.from({ length: 4 }, (_, i) => ({ inputIds: Array.from(randomArray(12, 500 + i), (x) => 3 + Math.floor((x + 1) * 190)) }));
    const base = await evaluate(model, data);
    const lora = { ...DEFAULT_LORA, rank: 8, alpha: 16, targets: parseTargets('all-linear') };
    const t = loraTrainable(gpu, initLora(model.cfg, lora, 1));
    const result = await train(model, t, data, null, { ...DEFAULT_TRAIN, lr: 1e-2, batchSize: 4, seqLen: 64, steps: 15 });
    expect(result.losses).toHaveLength(15);
    expect(result.losses[0]!).toBeCloseTo(base.loss, 3);
    model.lora = t.lora;
    const after = await evaluate(model, data);
    model.lora = null;
    expect(after.loss).toBeLessThan(0.7 * base.loss);
    expect(after.tokens).toBe(base.tokens);
  });
});
