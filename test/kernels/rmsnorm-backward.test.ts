// rmsnormBackward / rmsnormWeightGrad (GPU) vs their float64 twins, and the twins vs central finite
// differences of rmsnormForwardCpu (so the reference itself is proven right).
// Dimension key: R = rows, C = row width.   x, dy, dx: [R, C]   w, dw: [C]

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import {
  rmsnormBackward,
  rmsnormBackwardCpu,
  rmsnormForwardCpu,
  rmsnormWeightGrad,
  rmsnormWeightGradCpu,
} from '../../src/kernels/rmsnorm.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

/** L = sum(y * G), y = rmsnorm(x, w). */
function loss(x: Float64Array, w: Float64Array, G: Float64Array, R: number, C: number, eps: number): number {
  const y = new Float64Array(R * C);
  rmsnormForwardCpu({ x, w, y, R, C, eps });
  return y.reduce((acc, v, i) => acc + v * G[i]!, 0);
}

/** Central differences of f with respect to every element of `at` (perturbed in place, restored). */
function numericGrad(at: Float64Array, f: () => number, h = 1e-6): Float64Array {
  const g = new Float64Array(at.length);
  for (let i = 0; i < at.length; i++) {
    const v = at[i]!;
    at[i] = v + h;
    const up = f();
    at[i] = v - h;
    const down = f();
    at[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

function inputs(R: number, C: number, seed: number): { x: Float64Array; w: Float64Array; dy: Float64Array } {
  const x = f32(randomArray(R * C, seed, 3));
  // One row of tiny values, where eps matters relative to mean(x^2).
  if (R > 1) for (let c = 0; c < C; c++) x[C + c] = Math.fround(x[C + c]! * 1e-3);
  const w = f32(randomArray(C, seed + 1, 2));
  const dy = f32(randomArray(R * C, seed + 2, 1));
  return { x, w, dy };
}

describe('rmsnorm backward twins vs finite differences', () => {
  it.each([1e-5, 1e-2])('dx and dw, eps=%f', (eps) => {
    const R = 3, C = 5;
    const { x, w, dy: G } = inputs(R, C, 5);
    const dx = new Float64Array(R * C);
    rmsnormBackwardCpu({ x, w, dy: G, dx, R, C, eps });
    const dw = new Float64Array(C);
    rmsnormWeightGradCpu({ x, dy: G, dw, R, C, eps });
    // The tiny row has inv ~ 1/sqrt(eps), so use a step well below its values (~1e-3).
    const ndx = numericGrad(x, () => loss(x, w, G, R, C, eps), 1e-8);
    const ndw = numericGrad(w, () => loss(x, w, G, R, C, eps));
    expectClose(dx, ndx, { abs: 1e-5, rel: 1e-6 }, 'dx vs finite differences');
    expectClose(dw, ndw, { abs: 1e-8, rel: 1e-7 }, 'dw vs finite differences');
  });

  it('accumulate adds to what is there', () => {
    const R = 2, C = 3, eps = 1e-5;
    const { x, w, dy } = inputs(R, C, 9);
    const base = randomArray(R * C, 10);
    const fresh = new Float64Array(R * C);
    rmsnormBackwardCpu({ x, w, dy, dx: fresh, R, C, eps });
    const acc = Float64Array.from(base);
    rmsnormBackwardCpu({ x, w, dy, dx: acc, R, C, eps, accumulate: true });
    expectClose(acc, fresh.map((v, i) => v + base[i]!), { abs: 1e-15, rel: 1e-15 }, 'dx accumulate');
    const baseW = randomArray(C, 11);
    const freshW = new Float64Array(C);
    rmsnormWeightGradCpu({ x, dy, dw: freshW, R, C, eps });
    const accW = Float64Array.from(baseW);
    rmsnormWeightGradCpu({ x, dy, dw: accW, R, C, eps, accumulate: true });
    expectClose(accW, freshW.map((v, i) => v + baseW[i]!), { abs: 1e-15, rel: 1e-15 }, 'dw accumulate');
  });
});

// C=4 leaves most of the 64 threads idle; 130 and 1000 are above the workgroup and not multiples of it.
const DX_CASES = [false, true].flatMap((accumulate) =>
  [
    { R: 1, C: 4, eps: 1e-5 },
    { R: 7, C: 4, eps: 1e-6 },
    { R: 5, C: 36, eps: 1e-5 },
    { R: 9, C: 130, eps: 1e-6 },
    { R: 3, C: 1000, eps: 1e-5 },
  ].map((s) => ({ ...s, accumulate })),
);

// Columns not a multiple of the 16-column workgroup; rows fewer than, equal to and well past the 16 lanes.
const DW_CASES = [false, true].flatMap((accumulate) =>
  [
    { R: 1, C: 4, eps: 1e-5 },
    { R: 16, C: 16, eps: 1e-6 },
    { R: 37, C: 36, eps: 1e-5 },
    { R: 300, C: 130, eps: 1e-6 },
    { R: 5, C: 1000, eps: 1e-5 },
  ].map((s) => ({ ...s, accumulate })),
);

describe('rmsnorm backward (GPU)', () => {
  it.each(DX_CASES)('dx R=$R C=$C eps=$eps accumulate=$accumulate', async ({ R, C, eps, accumulate }) => {
    const gpu = await testGpu();
    const { x, w, dy } = inputs(R, C, 21 + C);
    const start = accumulate ? f32(randomArray(R * C, 3 + C)) : new Float64Array(R * C).fill(NaN);
    const bufs = [x, w, dy, start].map((a) => uploadBuffer(gpu, Float32Array.from(a)));
    const [xb, wb, dyb, dxb] = bufs as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
    const rec = new Recorder(gpu);
    rmsnormBackward(rec, { x: xb, w: wb, dy: dyb, dx: dxb, R, C, eps, accumulate });
    rec.submit();
    const got = await readF32(gpu, dxb, 0, R * C);
    for (const b of bufs) gpu.pool.release(b);
    const want = Float64Array.from(start);
    rmsnormBackwardCpu({ x, w, dy, dx: want, R, C, eps, accumulate });
    expectClose(got, want, { abs: 1e-5, rel: 1e-4 }, `rmsnorm dx C=${C}`);
  });

  it.each(DW_CASES)('dw R=$R C=$C eps=$eps accumulate=$accumulate', async ({ R, C, eps, accumulate }) => {
    const gpu = await testGpu();
    const { x, dy } = inputs(R, C, 51 + C);
    const start = accumulate ? f32(randomArray(C, 4 + C)) : new Float64Array(C).fill(NaN);
    const bufs = [x, dy, start].map((a) => uploadBuffer(gpu, Float32Array.from(a)));
    const [xb, dyb, dwb] = bufs as [GPUBuffer, GPUBuffer, GPUBuffer];
    const rec = new Recorder(gpu);
    rmsnormWeightGrad(rec, { x: xb, dy: dyb, dw: dwb, R, C, eps, accumulate });
    rec.submit();
    const got = await readF32(gpu, dwb, 0, C);
    for (const b of bufs) gpu.pool.release(b);
    const want = Float64Array.from(start);
    rmsnormWeightGradCpu({ x, dy, dw: want, R, C, eps, accumulate });
    expectClose(got, want, { abs: 1e-5, rel: 1e-4 }, `rmsnorm dw R=${R} C=${C}`);
  });

  it('dw is deterministic (bit-identical across runs)', async () => {
    const gpu = await testGpu();
    const R = 200, C = 40, eps = 1e-5;
    const { x, dy } = inputs(R, C, 77);
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const dyb = uploadBuffer(gpu, Float32Array.from(dy));
    const runs: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const dwb = uploadBuffer(gpu, new Float32Array(C));
      const rec = new Recorder(gpu);
      rmsnormWeightGrad(rec, { x: xb, dy: dyb, dw: dwb, R, C, eps });
      rec.submit();
      runs.push(Array.from(await readF32(gpu, dwb, 0, C)));
      gpu.pool.release(dwb);
    }
    gpu.pool.release(xb);
    gpu.pool.release(dyb);
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });
});
