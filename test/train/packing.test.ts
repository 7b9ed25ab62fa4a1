// Packed rows (several documents in one sequence, positions restarting, attention kept inside each
// document) must give exactly the loss and the gradients of the documents run separately.

import { describe, expect, it } from 'vitest';
import { evaluate, type TokenRow } from '../../src/model/evaluate.ts';
import { datasetGradients, readLoraGrads } from '../../src/train/gradients.ts';
import { loraTrainable } from '../../src/train/trainable.ts';
import { randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { randomLora } from '../helpers/lora.ts';
import { loadTestModel } from '../helpers/model.ts';

const docs = [7, 5, 9].map((n, i) => Array.from(randomArray(n, 70 + i), (x) => 3 + Math.floor((x + 1) * 190)));

function packed(): TokenRow {
  const inputIds = docs.flat();
  // Nothing crosses a boundary: the first token of each later document is not a target.
  const labels = docs.flatMap((d, k) => d.map((id, t) => (k > 0 && t === 0 ? -100 : id)));
  const positionIds = docs.flatMap((d) => d.map((_, t) => t));
  return { inputIds, labels, positionIds };
}

describe.each([
  { architecture: 'llama' as const, seed: 81 },
  { architecture: 'qwen3' as const, seed: 82 },
  { architecture: 'mistral' as const, seed: 83, slidingWindow: 4 },
])('packing, $architecture', (o) => {
  it('a packed row has the loss and LoRA gradients of its documents run one by one', async () => {
    const gpu = await testGpu();
    const { model } = await loadTestModel(gpu, { ...o, dtype: 'F32' }, 'f32');
    const separate = docs.map((d) => ({ inputIds: d }));
    const a = await evaluate(model, [packed()]);
    const b = await evaluate(model, separate);
    expect(a.tokens).toBe(b.tokens);
    expect(a.loss).toBeCloseTo(b.loss, 5);

    const { weights } = randomLora(model.cfg, 2, 1.5, 5);
    const grads = async (rows: TokenRow[]) => {
      const t = loraTrainable(gpu, weights);
      await datasetGradients(model, t, rows, { seqLen: 64, batchSize: 4 });
      return readLoraGrads(model, t, weights);
    };
    const gp = await grads([packed()]);
    const gs = await grads(separate);
    for (const [name, g] of gs) {
      const p = gp.get(name)!;
      const scale = Math.max(...g.a.map(Math.abs), ...g.b.map(Math.abs));
      const err = Math.max(...g.a.map((x, i) => Math.abs(x - p.a[i]!)), ...g.b.map((x, i) => Math.abs(x - p.b[i]!)));
      expect(err, name).toBeLessThan(1e-4 * scale);
    }
  });
});
