import { describe, expect, it } from 'vitest';
import { readF32, Recorder, uploadBuffer } from '../../src/gpu/recorder.ts';
import { biasGrad, biasGradCpu } from '../../src/kernels/bias-grad.ts';
import { dropoutForward, dropoutForwardCpu } from '../../src/kernels/dropout.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

describe('dropout', () => {
  it.each([
    [1001, 0.1, 7],
    [4097, 0.5, 123456],
  ])('N=%i p=%f seed=%i: same mask as the CPU twin, kept values scaled by 1/(1-p), accumulate adds', async (N, p, seed) => {
    const gpu = await testGpu();
    const x = f32(randomArray(N, 3));
    const y0 = f32(randomArray(N, 4));
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const yb = uploadBuffer(gpu, Float32Array.from(y0));
    const rec = new Recorder(gpu);
    dropoutForward(rec, { x: xb, out: yb, N, p, seed, accumulate: true });
    rec.submit();
    const want = Float64Array.from(y0);
    dropoutForwardCpu({ x, out: want, N, p, seed, accumulate: true });
    expectClose(await readF32(gpu, yb, 0, N), want, { abs: 1e-6, rel: 1e-6 }, 'dropout');
    const dropped = want.filter((v, i) => v === y0[i]).length / N;
    expect(Math.abs(dropped - p)).toBeLessThan(0.05);
    const other = Float64Array.from(y0);
    dropoutForwardCpu({ x, out: other, N, p, seed: seed + 1, accumulate: true });
    expect(other).not.toEqual(want);
  });
});

describe('bias gradient', () => {
  it.each([
    [1, 5],
    [37, 130],
  ])('M=%i N=%i', async (M, N) => {
    const gpu = await testGpu();
    const dy = f32(randomArray(M * N, 9));
    const db0 = f32(randomArray(N, 10));
    const dyb = uploadBuffer(gpu, Float32Array.from(dy));
    const dbb = uploadBuffer(gpu, Float32Array.from(db0));
    const rec = new Recorder(gpu);
    biasGrad(rec, { dy: dyb, db: dbb, M, N, accumulate: true });
    rec.submit();
    const want = Float64Array.from(db0);
    biasGradCpu({ dy, db: want, M, N, accumulate: true });
    expectClose(await readF32(gpu, dbb, 0, N), want, { abs: 1e-5, rel: 1e-5 }, 'bias grad');
  });
});
