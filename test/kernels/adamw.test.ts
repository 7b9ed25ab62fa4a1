// adamwStep (GPU) vs adamwStepCpu over several steps in a row, with weight decay, a clip scale read
// from a GPU buffer and a gradient divisor; and step 1 vs its closed form (torch.optim.AdamW:
// param * (1 - lr wd) - lr * g / (|g| + eps), since both moments' bias corrections cancel).
// Dimension key: n = elements.   param, grad, m, v: [n] f32   gradScale: [2] f32 (norm, scale)

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { adamwStep, adamwStepCpu } from '../../src/kernels/adamw.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

/** Gradients over many magnitudes: some exact zeros, some tiny enough that eps matters. */
function gradients(n: number, seed: number): Float64Array {
  const g = randomArray(n, seed, 2);
  for (let i = 0; i < n; i += 7) g[i] = 0;
  for (let i = 3; i < n; i += 11) g[i] = g[i]! * 1e-8;
  for (let i = 5; i < n; i += 13) g[i] = g[i]! * 1e3;
  return f32(g);
}

const HYPER = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };

describe('adamwStep', () => {
  it.each([
    { n: 1, steps: 3, clip: 1, gradDivisor: undefined },
    { n: 1001, steps: 6, clip: 0.37, gradDivisor: 4 },
    { n: 4099, steps: 4, clip: 1, gradDivisor: 2 },
  ])('n=$n, $steps steps, clip scale $clip, gradDivisor $gradDivisor', async ({ n, steps, clip, gradDivisor }) => {
    const gpu = await testGpu();
    const param = f32(randomArray(n, 51 + n));
    const cpu = { param: Float64Array.from(param), m: new Float64Array(n), v: new Float64Array(n) };
    const bufs = {
      param: uploadBuffer(gpu, Float32Array.from(param)),
      m: uploadBuffer(gpu, new Float32Array(n)),
      v: uploadBuffer(gpu, new Float32Array(n)),
    };
    const gradScale = f32([12.5, clip]);
    const scaleBuf = uploadBuffer(gpu, Float32Array.from(gradScale));
    // Largest |g| each element has seen: m = b1 m + (1 - b1) g can cancel to far below its terms, so
    // its rounding error is relative to this, not to m itself.
    const gMax = new Float64Array(n);
    const perMag = (x: ArrayLike<number>): number[] => Array.from(x, (v, i) => (gMax[i]! > 0 ? v / gMax[i]! : v));
    for (let step = 1; step <= steps; step++) {
      const grad = gradients(n, 52 + step);
      grad.forEach((g, i) => (gMax[i] = Math.max(gMax[i]!, (Math.abs(g) * clip) / (gradDivisor ?? 1))));
      const gradBuf = uploadBuffer(gpu, Float32Array.from(grad));
      const rec = new Recorder(gpu);
      adamwStep(rec, { ...bufs, grad: gradBuf, gradScale: scaleBuf, n, step, gradDivisor, ...HYPER });
      rec.submit();
      adamwStepCpu({ ...cpu, grad, gradScale, n, step, gradDivisor, ...HYPER });
      gpu.pool.release(gradBuf);
      // f32 rounding of each step's arithmetic, accumulated over a few steps. Far tighter than the
      // effects checked: weight decay moves a param by lr * wd * |param| ~ 1e-3 per step.
      expectClose(await readF32(gpu, bufs.param, 0, n), cpu.param, { abs: 1e-6, rel: 1e-6 }, `param after step ${step}`);
      expectClose(perMag(await readF32(gpu, bufs.m, 0, n)), perMag(cpu.m), { abs: 1e-6 }, `m / max|g| after step ${step}`);
      // v is a sum of non-negative terms: no cancellation, relative error only.
      expectClose(await readF32(gpu, bufs.v, 0, n), cpu.v, { abs: 1e-30, rel: 1e-5 }, `v after step ${step}`);
    }
  });

  it('step 1 moves each param by lr against the sign of its gradient, after decay', async () => {
    const gpu = await testGpu();
    const n = 37;
    const param = f32(randomArray(n, 55));
    const grad = f32(randomArray(n, 56, 5));
    grad[0] = 0;
    const pb = uploadBuffer(gpu, Float32Array.from(param));
    const rec = new Recorder(gpu);
    adamwStep(rec, {
      param: pb,
      grad: uploadBuffer(gpu, Float32Array.from(grad)),
      m: uploadBuffer(gpu, new Float32Array(n)),
      v: uploadBuffer(gpu, new Float32Array(n)),
      gradScale: uploadBuffer(gpu, new Float32Array([0, 1])),
      n,
      step: 1,
      ...HYPER,
    });
    rec.submit();
    const want = Array.from(param, (p, i) => p * (1 - HYPER.lr * HYPER.weightDecay) - (HYPER.lr * grad[i]!) / (Math.abs(grad[i]!) + HYPER.eps));
    expectClose(await readF32(gpu, pb, 0, n), want, { abs: 1e-7, rel: 1e-6 }, 'step 1');
  });

  it('refuses a 0-based step', async () => {
    const gpu = await testGpu();
    const b = uploadBuffer(gpu, new Float32Array(4));
    expect(() => adamwStep(new Recorder(gpu), { param: b, grad: b, m: b, v: b, gradScale: b, n: 4, step: 0, ...HYPER })).toThrow(/1-based/);
  });
});

describe('adamwStep after a diverged gradient', () => {
  it.each([NaN, Infinity])('leaves param and moments untouched when the global norm is %s', async (norm) => {
    const gpu = await testGpu();
    const n = 37;
    const param = f32(randomArray(n, 1));
    const grad = f32(randomArray(n, 2));
    const buf = (x: Float64Array) => uploadBuffer(gpu, Float32Array.from(x));
    const [pb, gb, mb, vb] = [buf(param), buf(grad), buf(new Float64Array(n)), buf(new Float64Array(n))];
    const scale = uploadBuffer(gpu, Float32Array.from([norm, 1]));
    const rec = new Recorder(gpu);
    adamwStep(rec, { param: pb!, grad: gb!, m: mb!, v: vb!, n, step: 1, gradScale: scale, ...HYPER });
    rec.submit();
    expect(Array.from(await readF32(gpu, pb!, 0, n))).toEqual(Array.from(Float32Array.from(param)));
    expect(Array.from(await readF32(gpu, mb!, 0, n)).every((x) => x === 0)).toBe(true);
    const cpu = { param: Float64Array.from(param), grad, m: new Float64Array(n), v: new Float64Array(n), gradScale: Float64Array.from([norm, 1]) };
    adamwStepCpu({ ...cpu, n, step: 1, ...HYPER });
    expect(cpu.param).toEqual(param);
  });
});
