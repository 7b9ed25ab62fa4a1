// crossEntropyBackward (GPU) over several vocabulary chunks, after crossEntropyChunkForward has left the
// final per-row state: each chunk's dlogits vs crossEntropyBackwardCpu (same state), and the whole row
// vs scale * (softmax - onehot) computed directly in float64.
// Dimension key: R = rows (tokens), Vc = vocab columns per chunk, nC = chunks, V = nC * Vc.
// logits: [R, V] f32 (one [R, Vc] buffer per chunk, overwritten by dlogits)   targets: [R] i32   state: [R, 4] f32

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { crossEntropyBackward, crossEntropyBackwardCpu, crossEntropyChunkForward, IGNORE_INDEX } from '../../src/kernels/cross-entropy.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

/** Logits with hard rows: ±50 everywhere, one spike at +50 over -50, far below zero, a max in chunk 0. */
function makeLogits(R: number, V: number, seed: number): Float64Array {
  const x = randomArray(R * V, seed, 4);
  const row = (r: number, f: (c: number) => number): void => {
    if (r < R) for (let c = 0; c < V; c++) x[r * V + c] = f(c);
  };
  row(1, (c) => (x[V + c]! > 0 ? 50 : -50));
  row(2, (c) => (c === V - 3 ? 50 : -50));
  row(3, (c) => -50 + x[3 * V + c]!);
  row(4, (c) => (c === 1 ? 50 : 40 + x[4 * V + c]!));
  return f32(x);
}

/** Targets across all chunks (first and last column, the spikes), every third row ignored. */
function makeTargets(R: number, V: number, Vc: number): Int32Array {
  const t = new Int32Array(R);
  for (let r = 0; r < R; r++) t[r] = r % 3 === 2 ? IGNORE_INDEX : (r * Vc + Math.floor(Vc / 2) + r * 7) % V;
  t[0] = 0;
  if (R > 1) t[1] = V - 1;
  if (R > 4) t[4] = 1;
  if (R > 3) t[3] = V - 3;
  return t;
}

/** scale * (softmax(row) - onehot(target)) over the whole row, in float64; zero for ignored rows. */
function directGrad(logits: Float64Array, targets: Int32Array, R: number, V: number, scale: number): Float64Array {
  const out = new Float64Array(R * V);
  for (let r = 0; r < R; r++) {
    const t = targets[r]!;
    if (t === IGNORE_INDEX) continue;
    let m = -Infinity;
    for (let c = 0; c < V; c++) m = Math.max(m, logits[r * V + c]!);
    let s = 0;
    for (let c = 0; c < V; c++) s += Math.exp(logits[r * V + c]! - m);
    for (let c = 0; c < V; c++) out[r * V + c] = scale * (Math.exp(logits[r * V + c]! - m) / s - (c === t ? 1 : 0));
  }
  return out;
}

const CASES = [
  { R: 1, Vc: 37, nC: 1 },
  { R: 7, Vc: 37, nC: 3 },
  { R: 9, Vc: 100, nC: 4 },
  { R: 5, Vc: 1000, nC: 3 },
  { R: 3, Vc: 5, nC: 7 },
];

describe('cross-entropy backward over vocabulary chunks', () => {
  it.each(CASES)('R=$R Vc=$Vc chunks=$nC', async ({ R, Vc, nC }) => {
    const gpu = await testGpu();
    const V = Vc * nC;
    const logits = makeLogits(R, V, 71 + Vc + R);
    const targets = makeTargets(R, V, Vc);
    const count = Array.from(targets).filter((t) => t !== IGNORE_INDEX).length;
    const scale = 1 / count; // a mean over the rows with a target
    const tb = uploadBuffer(gpu, targets);
    const sb = uploadBuffer(gpu, new Float32Array(R * 4).fill(NaN));
    const chunks: Float64Array[] = [];
    const chunkBufs: GPUBuffer[] = [];
    for (let ci = 0; ci < nC; ci++) {
      const chunk = new Float64Array(R * Vc);
      for (let r = 0; r < R; r++) chunk.set(logits.subarray(r * V + ci * Vc, r * V + (ci + 1) * Vc), r * Vc);
      chunks.push(chunk);
      chunkBufs.push(uploadBuffer(gpu, Float32Array.from(chunk)));
    }
    // Forward over every chunk, then backward over every chunk: all in one submission.
    const rec = new Recorder(gpu);
    chunkBufs.forEach((lb, ci) => crossEntropyChunkForward(rec, { logits: lb, targets: tb, state: sb, R, Vc, v0: ci * Vc, first: ci === 0 }));
    chunkBufs.forEach((lb, ci) => crossEntropyBackward(rec, { logits: lb, targets: tb, state: sb, R, Vc, v0: ci * Vc, scale }));
    rec.submit();
    const state = Float64Array.from(await readF32(gpu, sb, 0, R * 4));

    const got = new Float64Array(R * V);
    for (let ci = 0; ci < nC; ci++) {
      const g = await readF32(gpu, chunkBufs[ci]!, 0, R * Vc);
      // The twin, from the same (f32) state. exp in WGSL is allowed a few ulp plus 2 per unit of
      // |logit - max| (up to 100 here), so rel 1e-4; abs 1e-7 because the values are at most `scale`.
      const want = Float64Array.from(chunks[ci]!);
      crossEntropyBackwardCpu({ logits: want, targets, state, R, Vc, v0: ci * Vc, scale });
      expectClose(g, want, { abs: 1e-7, rel: 1e-4 }, `dlogits chunk ${ci} vs twin`);
      for (let r = 0; r < R; r++) got.set(g.subarray(r * Vc, (r + 1) * Vc), r * V + ci * Vc);
    }

    // The whole row vs a direct float64 softmax: the f32 state adds its own rounding (sum over V terms).
    expectClose(got, directGrad(logits, targets, R, V, scale), { abs: 1e-7, rel: 1e-4 }, 'dlogits vs softmax - onehot');
    for (let r = 0; r < R; r++) {
      const row = got.subarray(r * V, (r + 1) * V);
      if (targets[r] === IGNORE_INDEX) {
        expect(Array.from(row).every((v) => v === 0), `ignored row ${r} is zero`).toBe(true);
      } else {
        // softmax sums to one, so each row's gradient sums to zero.
        expect(Math.abs(row.reduce((a, b) => a + b, 0)), `row ${r} sums to 0`).toBeLessThan(1e-5 * scale * Math.sqrt(V));
      }
    }
  });
});
