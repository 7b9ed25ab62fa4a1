// crossEntropyChunkForward (GPU) over several vocabulary chunks vs crossEntropyChunkForwardCpu, then
// lossesFromState vs a direct float64 log-softmax over the whole row.
// Dimension key: R = rows (tokens), Vc = vocab columns per chunk, nC = chunks, V = nC * Vc.
// logits: [R, V] f32 (uploaded one [R, Vc] chunk at a time)   targets: [R] i32   state: [R, 4] f32

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { crossEntropyChunkForward, crossEntropyChunkForwardCpu, IGNORE_INDEX, lossesFromState } from '../../src/kernels/cross-entropy.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

/** Logits with some hard rows: all ±50, one spike at +50 over -50, one very negative row. */
function makeLogits(R: number, V: number, seed: number): Float64Array {
  const x = randomArray(R * V, seed, 4);
  const row = (r: number, f: (c: number) => number): void => {
    if (r < R) for (let c = 0; c < V; c++) x[r * V + c] = f(c);
  };
  row(1, (c) => (x[V + c]! > 0 ? 50 : -50)); // the running max jumps between ±50 across chunks
  row(2, (c) => (c === V - 3 ? 50 : -50)); // the max sits in the last chunk
  row(3, (c) => -50 + x[3 * V + c]!); // everything far below zero
  row(4, (c) => (c === 1 ? 50 : 40 + x[4 * V + c]!)); // the max sits in the first chunk
  return f32(x);
}

/** Targets spread over the chunks (first and last column included), every third row ignored. */
function makeTargets(R: number, V: number, Vc: number): Int32Array {
  const t = new Int32Array(R);
  for (let r = 0; r < R; r++) {
    if (r % 3 === 2) t[r] = IGNORE_INDEX;
    else t[r] = (r * Vc + Math.floor(Vc / 2) + r * 7) % V;
  }
  t[0] = 0;
  if (R > 1) t[1] = V - 1;
  if (R > 2 && V > 3) t[2] = V - 3; // row 2's spike (rows 5, 8, ... stay ignored)
  if (R > 4) t[4] = 1;
  return t;
}

/** Loss of one row in float64: logsumexp(row) - row[target]. */
function directLoss(logits: Float64Array, V: number, r: number, target: number): number {
  let m = -Infinity;
  for (let c = 0; c < V; c++) m = Math.max(m, logits[r * V + c]!);
  let s = 0;
  for (let c = 0; c < V; c++) s += Math.exp(logits[r * V + c]! - m);
  return m + Math.log(s) - logits[r * V + target]!;
}

const CASES = [
  { R: 1, Vc: 37, nC: 1 },
  { R: 7, Vc: 37, nC: 3 },
  { R: 9, Vc: 100, nC: 4 },
  { R: 5, Vc: 1000, nC: 3 },
  { R: 3, Vc: 5, nC: 7 }, // chunks narrower than the workgroup: most threads see nothing
];

describe('cross-entropy over vocabulary chunks', () => {
  it.each(CASES)('R=$R Vc=$Vc chunks=$nC', async ({ R, Vc, nC }) => {
    const gpu = await testGpu();
    const V = Vc * nC;
    const logits = makeLogits(R, V, 61 + Vc + R);
    const targets = makeTargets(R, V, Vc);
    const tb = uploadBuffer(gpu, targets);
    // Garbage in the state: the first chunk must not read it.
    const sb = uploadBuffer(gpu, new Float32Array(R * 4).fill(NaN));
    const want = new Float64Array(R * 4);
    const rec = new Recorder(gpu);
    for (let ci = 0; ci < nC; ci++) {
      const chunk = new Float64Array(R * Vc);
      for (let r = 0; r < R; r++) chunk.set(logits.subarray(r * V + ci * Vc, r * V + (ci + 1) * Vc), r * Vc);
      const lb = rec.temp(R * Vc * 4);
      gpu.device.queue.writeBuffer(lb, 0, Float32Array.from(chunk));
      const args = { R, Vc, v0: ci * Vc, first: ci === 0 };
      crossEntropyChunkForward(rec, { ...args, logits: lb, targets: tb, state: sb });
      crossEntropyChunkForwardCpu({ ...args, logits: chunk, targets, state: want });
    }
    rec.submit();
    const got = await readF32(gpu, sb, 0, R * 4);
    // The state's fourth lane is unused; compare (max, sum-exp, target logit) only.
    const pick = (s: ArrayLike<number>): number[] => Array.from(s).filter((_, i) => i % 4 !== 3);
    const maxAndTarget = (s: ArrayLike<number>): number[] => pick(s).filter((_, i) => i % 3 !== 1);
    expect(maxAndTarget(got), 'running max and target logit are exact').toEqual(maxAndTarget(want));
    // The sum of exp(l - max) is an f32 sum of up to 3000 terms of at most 1.
    expectClose(pick(got), pick(want), { abs: 1e-5, rel: 1e-4 }, 'cross-entropy state');

    // Per-row losses vs a direct float64 log-softmax over the whole row. The loss is
    // max + log(sum) - target, each near 50 for the hard rows, where one f32 ulp is 3.8e-6: abs 2e-5.
    const wantLoss: number[] = [];
    const gotLoss: number[] = [];
    for (let r = 0; r < R; r++) {
      const t = targets[r]!;
      if (t === IGNORE_INDEX) continue;
      wantLoss.push(directLoss(logits, V, r, t));
      gotLoss.push(lossesFromState(got.subarray(r * 4, r * 4 + 4), [t]).sum);
    }
    expectClose(gotLoss, wantLoss, { abs: 2e-5, rel: 1e-5 }, 'per-row loss');
    const total = lossesFromState(got, targets);
    expect(total.count).toBe(wantLoss.length);
    const wantSum = wantLoss.reduce((a, b) => a + b, 0);
    expect(Math.abs(total.sum - wantSum)).toBeLessThanOrEqual(2e-5 * wantLoss.length + 1e-5 * Math.abs(wantSum));
    expect(Number.isFinite(total.sum)).toBe(true);
  });
});
