// embeddingGradPlan (CPU grouping of token positions by id) and embeddingBackward (GPU) vs
// embeddingBackwardCpu: rows of ids that occur get the sum of their tokens' gradients, others stay.
// Dimension key: T = tokens, V = vocab rows, H = hidden (a multiple of 4), U = distinct ids.
// dx: [T, H] f32   ids: [T] u32   order: [T] u32   starts: [U + 1] u32   uniqueIds: [U] u32   dE: [V, H] f32

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { embeddingBackward, embeddingBackwardCpu, embeddingGradPlan } from '../../src/kernels/embedding.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

/** T odd; ids from a part of the table (so some rows never occur), first and last row, many repeats. */
function tokenIds(T: number, V: number, seed: number): Uint32Array {
  const ids = new Uint32Array(T);
  const r = randomArray(T, seed);
  for (let t = 0; t < T; t++) ids[t] = Math.floor(((r[t]! + 1) / 2) * V * 0.7) % V;
  ids[0] = V - 1;
  if (T > 1) ids[T - 1] = 0;
  for (let t = 2; t < T; t += 5) ids[t] = ids[1] ?? 0; // one id repeated throughout
  return ids;
}

describe('embeddingGradPlan', () => {
  it('sorts positions by id, stably, with the start of each group', () => {
    const plan = embeddingGradPlan([5, 2, 5, 0, 2, 5, 9]);
    expect(Array.from(plan.order)).toEqual([3, 1, 4, 0, 2, 5, 6]);
    expect(Array.from(plan.uniqueIds)).toEqual([0, 2, 5, 9]);
    expect(Array.from(plan.starts)).toEqual([0, 1, 3, 6, 7]);
  });

  it('handles no tokens and a single repeated id', () => {
    const empty = embeddingGradPlan([]);
    expect([empty.order.length, empty.uniqueIds.length, Array.from(empty.starts)]).toEqual([0, 0, [0]]);
    const same = embeddingGradPlan([7, 7, 7]);
    expect([Array.from(same.order), Array.from(same.uniqueIds), Array.from(same.starts)]).toEqual([[0, 1, 2], [7], [0, 3]]);
  });
});

const CASES = [
  { V: 1, H: 4, T: 1, rowsPerBinding: undefined },
  { V: 23, H: 20, T: 13, rowsPerBinding: undefined },
  { V: 97, H: 36, T: 101, rowsPerBinding: undefined },
  { V: 50, H: 20, T: 33, rowsPerBinding: 16 }, // dE bound in 4 windows of 16, 16, 16, 2 rows
  { V: 70, H: 132, T: 257, rowsPerBinding: 64 }, // windows of 64 and 6 rows of 528 bytes (offsets 256-aligned)
];

describe('embeddingBackward', () => {
  it.each(CASES)('V=$V H=$H T=$T rowsPerBinding=$rowsPerBinding', async ({ V, H, T, rowsPerBinding }) => {
    const gpu = await testGpu();
    const ids = tokenIds(T, V, 41 + T);
    const plan = embeddingGradPlan(ids);
    const U = plan.uniqueIds.length;
    const dx = f32(randomArray(T * H, 42 + H));
    // dE starts as garbage that untouched rows must keep.
    const dE0 = f32(randomArray(V * H, 43, 1e3));
    const bufs = {
      dx: uploadBuffer(gpu, Float32Array.from(dx)),
      order: uploadBuffer(gpu, plan.order),
      starts: uploadBuffer(gpu, plan.starts),
      uniqueIds: uploadBuffer(gpu, plan.uniqueIds),
    };
    for (const accumulate of [false, true]) {
      const dEb = uploadBuffer(gpu, Float32Array.from(dE0));
      const rec = new Recorder(gpu);
      embeddingBackward(rec, { ...bufs, U, H, dE: dEb, accumulate, rowsPerBinding });
      rec.submit();
      const got = await readF32(gpu, dEb, 0, V * H);
      const want = Float64Array.from(dE0);
      embeddingBackwardCpu({ dx, ...plan, U, H, dE: want, accumulate });
      // Rows that no token uses are bit-for-bit the garbage they started as.
      const used = new Set(plan.uniqueIds);
      const untouched = (a: ArrayLike<number>): number[] => Array.from(a).filter((_, i) => !used.has(Math.floor(i / H)));
      expect(untouched(got), 'rows of absent ids').toEqual(untouched(dE0));
      // Sums of at most ~T/5 values (plus the up-to-1e3 garbage when accumulating): f32 rounding.
      expectClose(got, want, { abs: 1e-5, rel: 1e-6 }, `dE accumulate=${accumulate}`);
      gpu.pool.release(dEb);
    }
  });

  it('matches a direct scatter-add over the tokens', async () => {
    const gpu = await testGpu();
    const V = 11, H = 8, T = 41;
    const ids = tokenIds(T, V, 44);
    const plan = embeddingGradPlan(ids);
    const dx = f32(randomArray(T * H, 45));
    const want = new Float64Array(V * H);
    for (let t = 0; t < T; t++) for (let c = 0; c < H; c++) want[ids[t]! * H + c] = want[ids[t]! * H + c]! + dx[t * H + c]!;
    const dEb = uploadBuffer(gpu, new Float32Array(V * H));
    const rec = new Recorder(gpu);
    embeddingBackward(rec, {
      dx: uploadBuffer(gpu, Float32Array.from(dx)),
      order: uploadBuffer(gpu, plan.order),
      starts: uploadBuffer(gpu, plan.starts),
      uniqueIds: uploadBuffer(gpu, plan.uniqueIds),
      U: plan.uniqueIds.length,
      H,
      dE: dEb,
      accumulate: true,
    });
    rec.submit();
    expectClose(await readF32(gpu, dEb, 0, V * H), want, { abs: 1e-6, rel: 1e-6 }, 'dE vs scatter-add');
  });
});
