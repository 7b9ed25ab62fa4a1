// rmsnormForward (GPU) vs rmsnormForwardCpu.
// Dimension key: R = rows, C = row width (not tied to vec4: the kernel reads scalars).

import { describe, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { rmsnormForward, rmsnormForwardCpu } from '../../src/kernels/rmsnorm.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

// C=4 leaves most of the 64 threads idle; 130 and 1000 are above the workgroup and not multiples of it.
const CASES = [1e-5, 1e-6].flatMap((eps) =>
  [
    { R: 1, C: 4 },
    { R: 7, C: 4 },
    { R: 5, C: 36 },
    { R: 9, C: 130 },
    { R: 3, C: 1000 },
  ].map((s) => ({ ...s, eps })),
);

describe('rmsnorm', () => {
  it.each(CASES)('R=$R C=$C eps=$eps', async ({ R, C, eps }) => {
    const gpu = await testGpu();
    const x = f32(randomArray(R * C, 21 + C, 3));
    // One row of tiny values, where eps matters relative to mean(x^2).
    if (R > 1) for (let c = 0; c < C; c++) x[C + c] = Math.fround(x[C + c]! * 1e-3);
    const w = f32(randomArray(C, 22 + C, 2));
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const wb = uploadBuffer(gpu, Float32Array.from(w));
    const yb = uploadBuffer(gpu, new Float32Array(R * C).fill(7));
    const rec = new Recorder(gpu);
    rmsnormForward(rec, { x: xb, w: wb, y: yb, R, C, eps });
    rec.submit();
    const got = await readF32(gpu, yb, 0, R * C);
    const want = new Float64Array(R * C);
    rmsnormForwardCpu({ x, w, y: want, R, C, eps });
    expectClose(got, want, { abs: 1e-5, rel: 1e-4 }, `rmsnorm C=${C}`);
  });
});
