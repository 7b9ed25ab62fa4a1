// rmsnormForward with `accumulate` (GPU) vs its twin: y += x * rsqrt(mean(x^2) + eps) * w, the
// residual add of Gemma 3's post-norms; the rows of y already there must be kept and added to.
// Dimension key: R = rows, C = row width.   x, y: [R, C]   w: [C]

import { describe, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { rmsnormForward, rmsnormForwardCpu } from '../../src/kernels/rmsnorm.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

describe('rmsnorm, accumulating', () => {
  it.each([
    { R: 1, C: 4 },
    { R: 7, C: 36 },
    { R: 9, C: 130 },
    { R: 3, C: 1000 },
  ])('R=$R C=$C', async ({ R, C }) => {
    const gpu = await testGpu();
    const eps = 1e-6;
    const x = f32(randomArray(R * C, 81 + C, 3));
    const w = f32(randomArray(C, 82 + C, 2));
    const y0 = f32(randomArray(R * C, 83 + C, 5));
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const wb = uploadBuffer(gpu, Float32Array.from(w));
    const yb = uploadBuffer(gpu, Float32Array.from(y0));
    const rec = new Recorder(gpu);
    rmsnormForward(rec, { x: xb, w: wb, y: yb, R, C, eps, accumulate: true });
    rec.submit();
    const got = await readF32(gpu, yb, 0, R * C);
    const want = Float64Array.from(y0);
    rmsnormForwardCpu({ x, w, y: want, R, C, eps, accumulate: true });
    const normed = new Float64Array(R * C);
    rmsnormForwardCpu({ x, w, y: normed, R, C, eps });
    // The twin adds: it is the plain norm plus y0 (so the test fails if neither adds).
    expectClose(want, normed.map((v, i) => v + y0[i]!), { abs: 1e-12, rel: 1e-12 }, 'twin');
    expectClose(got, want, { abs: 1e-5, rel: 1e-4 }, `rmsnorm accumulate C=${C}`);
    for (const b of [xb, wb, yb]) gpu.pool.release(b);
  });
});
