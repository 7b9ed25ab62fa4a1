// Training that provably learns: a memorisation set falls under 10% of its starting loss, a seed
// repeats a run bit for bit, a fresh adapter changes nothing, validation drives best-step tracking
// and early stopping, and a diverging run stops at the step where it diverged with good weights.

import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/model/evaluate.ts';
import { DEFAULT_LORA, initLora, trainableParameterCount, parseTargets } from '../../src/lora/config.ts';
import { DEFAULT_TRAIN, train, TrainingDivergedError, type TrainOptions } from '../../src/train/trainer.ts';
import { fullTrainable, loraTrainable, readLoraWeights } from '../../src/train/trainable.ts';
import { datasetGradients, readLoraGrads } from '../../src/train/gradients.ts';
import { randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadTestModel } from '../helpers/model.ts';

function rows(n: number, len: number, seed: number) {
  return Array.from({ length: n }, (_, i) => ({ inputIds: Array.from(randomArray(len, seed + i), (x) => 3 + Math.floor((x + 1) * 190)) }));
}

const MEMORISE = rows(4, 12, 500);
const lora = { ...DEFAULT_LORA, rank: 16, alpha: 16, targets: parseTargets('all-linear') };
const opts = (o: Partial<TrainOptions>): TrainOptions => ({ ...DEFAULT_TRAIN, lr: 1e-2, batchSize: 4, seqLen: 64, steps: 60, ...o });

describe('LoRA training', () => {
  it('memorises a small set: the loss falls under 10% of its start', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 51, dtype: 'F32', hiddenSize: 256 }, 'f32');
    const base = await evaluate(model, MEMORISE);
    const t = loraTrainable(gpu, initLora(model.cfg, lora, 1));
    const result = await train(model, t, MEMORISE, null, opts({}));
    const after = await evaluate(model, MEMORISE);
    expect(result.losses.length).toBe(60);
    expect(result.losses[0]!).toBeCloseTo(base.loss, 4);
    expect(after.loss).toBeLessThan(0.1 * base.loss);
  });

  it('repeats bit for bit with the same seed (dropout on), and differs with another seed', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'qwen2', seed: 52, dtype: 'BF16' }, 'auto');
    const withDropout = { ...lora, rank: 4, dropout: 0.1 };
    const run = async (seed: number) => {
      const t = loraTrainable(gpu, initLora(model.cfg, withDropout, seed));
      return (await train(model, t, rows(6, 10, 900), null, opts({ steps: 6, batchSize: 2, seed, dropout: 0.1, gradAccum: 2 }))).losses;
    };
    const a = await run(3);
    const b = await run(3);
    const c = await run(4);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('a fresh adapter (B = 0) leaves the eval loss exactly as the base model has it', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'qwen3', seed: 53, dtype: 'BF16' }, 'auto');
    const data = rows(3, 9, 77);
    const base = await evaluate(model, data);
    const fresh = initLora(model.cfg, lora, 9);
    model.lora = loraTrainable(gpu, fresh).lora;
    expect(await evaluate(model, data)).toEqual(base);
    model.lora = null;
  });

  it('tracks the best validation loss and stops early when it stops improving', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 54, dtype: 'F32', hiddenSize: 128 }, 'f32');
    const t = loraTrainable(gpu, initLora(model.cfg, lora, 2));
    const evals: number[] = [];
    const bests: number[] = [];
    // Memorising random rows makes the loss on other random rows worse: validation must stop it.
    const result = await train(model, t, MEMORISE, rows(4, 12, 700), opts({ steps: 200, evalEvery: 5, patience: 2, lr: 3e-2 }), {
      onEval: (r) => void evals.push(r.valLoss),
      onBest: (r) => void bests.push(r.step),
    });
    expect(result.stoppedEarly).toBe(true);
    expect(result.steps).toBeLessThan(200);
    expect(result.bestValLoss).toBe(Math.min(...evals));
    expect(result.bestStep).toBe(bests[bests.length - 1]);
    expect(evals.length).toBeGreaterThanOrEqual(3);
  });

  it('stops at the step where the loss diverges and keeps the last good weights', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 55, dtype: 'F32' }, 'f32');
    const shapes = initLora(model.cfg, lora, 5);
    const t = loraTrainable(gpu, shapes);
    const err = await train(model, t, MEMORISE, null, opts({ lr: 1e30, clip: 0, steps: 50 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as TrainingDivergedError).step).toBeGreaterThan(1);
    expect((err as Error).message).toMatch(/at step \d+/);
    const w = await readLoraWeights(gpu, t, shapes);
    for (const m of w.modules.values()) {
      expect(m.a.every(Number.isFinite) && m.b.every(Number.isFinite)).toBe(true);
    }
  });

  it('counts trainable parameters as r * (in + out) over the adapted layers', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 56, dtype: 'F32', hiddenSize: 32, intermediateSize: 64, numHeads: 4, numKvHeads: 2 }, 'f32');
    const cfg = model.cfg;
    const qv = { ...DEFAULT_LORA, rank: 4, targets: parseTargets('q_proj,v_proj') };
    // q: [32, 32], v: [16, 32] per layer.
    expect(trainableParameterCount(cfg, qv)).toBe(cfg.numLayers * 4 * (32 + 32 + 32 + 16));
    expect(loraTrainable(gpu, initLora(cfg, qv, 0)).count).toBe(trainableParameterCount(cfg, qv));
    expect(trainableParameterCount(cfg, { ...qv, layers: [1] })).toBe(4 * (32 + 32 + 32 + 16));
    const init = initLora(cfg, qv, 0);
    for (const m of init.modules.values()) {
      expect(m.b.every((x) => x === 0)).toBe(true);
      const bound = 1 / Math.sqrt(m.inFeatures);
      expect(Math.max(...m.a.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...m.a.map(Math.abs))).toBeGreaterThan(bound / 2);
    }
  });
});

describe('full fine-tuning as a comparison', () => {
  it('trains every weight and the loss falls, with far more trainable parameters than LoRA', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 57, dtype: 'F32' }, 'f32');
    const t = fullTrainable(gpu, model.weights);
    const result = await train(model, t, MEMORISE, null, opts({ steps: 20, lr: 3e-3 }));
    expect(result.losses[19]!).toBeLessThan(0.7 * result.losses[0]!);
    expect(t.count).toBeGreaterThan(5 * trainableParameterCount(model.cfg, { ...DEFAULT_LORA, rank: 8 }));
  });
});

describe('gradient accumulation', () => {
  it('micro-batches add up to the gradient and loss of one big batch (a mean over all its targets)', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 58, dtype: 'F32' }, 'f32');
    const data = [...rows(2, 12, 40), ...rows(2, 7, 50)];
    const shapes = initLora(model.cfg, { ...lora, rank: 4 }, 8);
    for (const m of shapes.modules.values()) m.b.set(Float32Array.from(randomArray(m.b.length, m.inFeatures, 0.2)));
    const grads = async (batchSize: number) => {
      const t = loraTrainable(gpu, shapes);
      const r = await datasetGradients(model, t, data, { seqLen: 64, batchSize });
      return { loss: r.loss, g: await readLoraGrads(model, t, shapes) };
    };
    const whole = await grads(4);
    const parts = await grads(1);
    expect(parts.loss).toBeCloseTo(whole.loss, 5);
    for (const [name, g] of whole.g) {
      const p = parts.g.get(name)!;
      const scale = Math.max(...g.a.map(Math.abs), ...g.b.map(Math.abs));
      for (let i = 0; i < g.a.length; i++) expect(Math.abs(p.a[i]! - g.a[i]!), `${name}.A[${i}]`).toBeLessThan(1e-5 * scale);
      for (let i = 0; i < g.b.length; i++) expect(Math.abs(p.b[i]! - g.b[i]!), `${name}.B[${i}]`).toBeLessThan(1e-5 * scale);
    }
  });

  it('two micro-batches of 2 take the same first step as one batch of 4', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 58, dtype: 'F32' }, 'f32');
    const data = [...rows(2, 12, 40), ...rows(2, 7, 50)];
    const first = async (batchSize: number, gradAccum: number) => {
      const t = loraTrainable(gpu, initLora(model.cfg, { ...lora, rank: 4 }, 8));
      return (await train(model, t, data, null, opts({ steps: 1, batchSize, gradAccum }))).losses[0]!;
    };
    expect(await first(2, 2)).toBeCloseTo(await first(4, 1), 5);
  });
});
