// sumSquares (one slot per gradient tensor) and clipScale ([norm, scale] as torch's clip_grad_norm_)
// on the GPU vs their float64 twins, and bit-for-bit repeatability of both.
// Dimension key: n = elements of one tensor, count = tensors.
// x: [n] f32   partials: [count] f32   out: [2] f32 (norm, scale)

import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { clipScale, clipScaleCpu, sumSquares, sumSquaresCpu } from '../../src/kernels/grad-norm.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

// Odd sizes, one large; tensor 2 sits 256 bytes into its buffer (a binding offset).
const SIZES = [100003, 1, 7, 4099, 65537];
const PAD = 64;

function tensors(): Float64Array[] {
  return SIZES.map((n, i) => f32(randomArray(n, 81 + i, 0.5 + i)));
}

/** Runs sumSquares over every tensor then clipScale, in one submission; returns the raw f32 results. */
async function run(gpu: Gpu, xs: Float64Array[], maxNorm: number): Promise<{ partials: Float32Array; out: Float32Array }> {
  const bufs = xs.map((x, i) => {
    if (i !== 2) return { buffer: uploadBuffer(gpu, Float32Array.from(x)) };
    const padded = new Float32Array(PAD + x.length).fill(1e3);
    padded.set(Float32Array.from(x), PAD);
    return { buffer: uploadBuffer(gpu, padded), offset: PAD * 4 };
  });
  // Slots are pre-filled with garbage; one extra slot must stay untouched.
  const partials = uploadBuffer(gpu, new Float32Array(xs.length + 1).fill(-7));
  const out = uploadBuffer(gpu, new Float32Array([NaN, NaN]));
  const rec = new Recorder(gpu);
  xs.forEach((x, i) => sumSquares(rec, { x: bufs[i]!, n: x.length, out: partials, index: i }));
  clipScale(rec, { partials, count: xs.length, maxNorm, out });
  rec.submit();
  const result = { partials: await readF32(gpu, partials, 0, xs.length + 1), out: await readF32(gpu, out, 0, 2) };
  for (const b of [...bufs.map((b) => b.buffer), partials, out]) gpu.pool.release(b);
  return result;
}

describe('gradient norm and clip scale', () => {
  it.each([
    { maxNorm: 1, clips: true },
    { maxNorm: 1e6, clips: false },
    { maxNorm: 0, clips: false },
  ])('maxNorm=$maxNorm: sums of squares, norm and scale vs float64', async ({ maxNorm, clips }) => {
    const gpu = await testGpu();
    const xs = tensors();
    const { partials, out } = await run(gpu, xs, maxNorm);
    const want = new Float64Array(xs.length);
    xs.forEach((x, i) => sumSquaresCpu({ x, n: x.length, out: want, index: i }));
    // f32 sums of up to 100003 positive terms: each thread adds ~400 in turn, then an 8-level tree;
    // the error stays near sqrt(400) ulp, far inside rel 1e-5 (no cancellation: all terms >= 0).
    expectClose(partials.subarray(0, xs.length), want, { rel: 1e-5 }, 'sums of squares');
    expect(partials[xs.length], 'the slot past the last index is untouched').toBe(-7);

    const wantOut = new Float64Array(2);
    clipScaleCpu({ partials: want, count: xs.length, maxNorm, out: wantOut });
    expectClose(out, wantOut, { rel: 1e-5 }, '[norm, scale]');
    expect(out[1]! < 1, 'clipping applies').toBe(clips);
    if (maxNorm === 0) expect(out[1]).toBe(1);
  });

  it('gives bit-identical results on every run', async () => {
    const gpu = await testGpu();
    const xs = tensors();
    const a = await run(gpu, xs, 2.5);
    const b = await run(gpu, xs, 2.5);
    expect(new Uint32Array(b.partials.buffer)).toEqual(new Uint32Array(a.partials.buffer));
    expect(new Uint32Array(b.out.buffer)).toEqual(new Uint32Array(a.out.buffer));
  });

  it('clipScale follows clip_grad_norm_ at the edges', async () => {
    const gpu = await testGpu();
    // norm 5 (3-4-5): scale = 5 / (5 + 1e-6) just under 1 at maxNorm = norm; exactly 1 above it.
    for (const [maxNorm, scale] of [[5, 5 / (5 + 1e-6)], [10, 1], [2.5, 2.5 / (5 + 1e-6)], [-1, 1]] as const) {
      const partials = uploadBuffer(gpu, new Float32Array([9, 0, 16]));
      const out = uploadBuffer(gpu, new Float32Array(2));
      const rec = new Recorder(gpu);
      clipScale(rec, { partials, count: 3, maxNorm, out });
      rec.submit();
      const got = await readF32(gpu, out, 0, 2);
      expectClose(got, [5, scale], { rel: 1e-6 }, `maxNorm ${maxNorm}`);
      // The + 1e-6 keeps the scale below 1 when the norm equals maxNorm (0.9999998 is an f32).
      if (maxNorm === 5) expect(got[1]).toBeLessThan(1);
    }
  });
});
