// Full fine-tuning (every weight trainable, f32 master copy) against the float64 reference, and
// activation checkpointing on or off giving the same gradients.

import { describe, expect, it } from 'vitest';
import { readF32 } from '../../src/gpu/recorder.ts';
import { loadReferenceWeights } from '../../src/model/reference.ts';
import { referenceFullGrads } from '../../src/model/reference-grad.ts';
import { batchTargets, microStep } from '../../src/train/graph.ts';
import { readLoraGrads } from '../../src/train/gradients.ts';
import { fullTrainable, loraTrainable } from '../../src/train/trainable.ts';
import { testGpu } from '../helpers/gpu.ts';
import { randomLora } from '../helpers/lora.ts';
import { loadTestModel } from '../helpers/model.ts';

const ROWS = [
  { inputIds: [5, 17, 200, 33, 9, 120, 64, 3, 77] },
  { inputIds: [40, 41, 42, 43, 44, 45], labels: [-100, -100, 42, 43, 44, 45] },
];

describe('full fine-tuning gradients', () => {
  it.each([
    { architecture: 'llama' as const, seed: 41, attentionBias: true },
    { architecture: 'qwen2' as const, seed: 42, tied: true },
    { architecture: 'qwen3' as const, seed: 43 },
  ])('$architecture: every weight, norm and embedding gradient equals the reference', async (o) => {
    const gpu = await testGpu();
    const { files, model } = await loadTestModel(gpu, { ...o, dtype: 'F32' }, 'f32');
    const trainable = fullTrainable(gpu, model.weights);
    const rows = ROWS.map((r) => ({ ids: r.inputIds, labels: r.labels ?? r.inputIds }));
    const batch = batchTargets(rows, 9);
    const tokens = batch.targets.filter((t) => t !== -100).length;
    const r = microStep(model, trainable, batch, { lossScale: 1 / tokens, dropout: 0, dropoutSeed: 0, checkpointing: true });
    gpu.pool.release(r.state);
    const want = referenceFullGrads(model.cfg, loadReferenceWeights(files), ROWS);
    const bad: string[] = [];
    for (const t of trainable.tensors) {
      const ref = want.grads.get(t.name);
      expect(ref, t.name).toBeDefined();
      const got = await readF32(gpu, t.grad, 0, t.n);
      let err = 0;
      let scale = 0;
      for (let i = 0; i < t.n; i++) {
        err = Math.max(err, Math.abs(got[i]! - ref![i]!));
        scale = Math.max(scale, Math.abs(ref![i]!));
      }
      if (err > 1e-3 * scale + 1e-7) bad.push(`${t.name}: error ${err.toExponential(2)} of scale ${scale.toExponential(2)}`);
    }
    expect(trainable.tensors.length).toBe(want.grads.size);
    expect(bad, bad.join('\n')).toEqual([]);
  });
});

describe('activation checkpointing', () => {
  it('recomputing each layer in backward gives the same gradients as keeping every activation', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 44, dtype: 'F32', numLayers: 3 }, 'f32');
    const { weights } = randomLora(model.cfg, 4, 2, 7);
    const results = [];
    for (const checkpointing of [true, false]) {
      const t = loraTrainable(gpu, weights);
      const rows = ROWS.map((r) => ({ ids: r.inputIds, labels: r.labels ?? r.inputIds }));
      const batch = batchTargets(rows, 9);
      const r = microStep(model, t, batch, { lossScale: 0.1, dropout: 0, dropoutSeed: 0, checkpointing });
      gpu.pool.release(r.state);
      results.push(await readLoraGrads(model, t, weights));
    }
    for (const [name, g] of results[0]!) {
      expect(Array.from(results[1]!.get(name)!.a), name).toEqual(Array.from(g.a));
      expect(Array.from(results[1]!.get(name)!.b), name).toEqual(Array.from(g.b));
    }
  });
});
