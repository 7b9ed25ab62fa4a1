// ropeBackward (GPU) vs ropeBackwardCpu, the twin vs central finite differences of ropeForwardCpu,
// and backward(forward(x)) == x on both.
// Dimension key: B = sequences, T = tokens per sequence, R = B*T rows, nh = heads, D = head dim,
// P = table positions.   x: [R, nh, D]   table: [P, D]

import { describe, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { ropeBackward, ropeBackwardCpu, ropeForward, ropeForwardCpu, ropeTable } from '../../src/kernels/rope.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

/** Hugging Face default inverse frequencies: theta^(-2i/D), i < D/2. */
function invFreq(D: number, theta = 10000): Float64Array {
  const f = new Float64Array(D / 2);
  for (let i = 0; i < D / 2; i++) f[i] = 1 / theta ** ((2 * i) / D);
  return f;
}

/** The same layout as ropeTable, kept in float64 (so cos^2 + sin^2 = 1 to float64 rounding). */
function table64(D: number, positions: number): Float64Array {
  const f = invFreq(D);
  const half = D / 2;
  const t = new Float64Array(positions * D);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      t[p * D + i] = Math.cos(p * f[i]!);
      t[p * D + half + i] = Math.sin(p * f[i]!);
    }
  }
  return t;
}

describe('rope backward twin', () => {
  it('matches finite differences of the forward', () => {
    const R = 4, T = 2, p0 = 3, nh = 2, D = 6;
    const table = Float64Array.from(ropeTable(invFreq(D), p0 + T));
    const x = randomArray(R * nh * D, 7, 2);
    const G = randomArray(R * nh * D, 8);
    const loss = (): number => {
      const y = Float64Array.from(x);
      ropeForwardCpu({ x: y, table, R, T, p0, nh, D });
      return y.reduce((acc, v, i) => acc + v * G[i]!, 0);
    };
    const numeric = new Float64Array(x.length);
    const h = 1e-6;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      x[i] = v + h;
      const up = loss();
      x[i] = v - h;
      const down = loss();
      x[i] = v;
      numeric[i] = (up - down) / (2 * h);
    }
    const dx = Float64Array.from(G);
    ropeBackwardCpu({ x: dx, table, R, T, p0, nh, D });
    expectClose(dx, numeric, { abs: 1e-8, rel: 1e-7 }, 'dx vs finite differences');
  });

  it('undoes the forward', () => {
    const R = 6, T = 3, p0 = 40, nh = 3, D = 8;
    const table = table64(D, p0 + T);
    const x = randomArray(R * nh * D, 9, 3);
    const y = Float64Array.from(x);
    ropeForwardCpu({ x: y, table, R, T, p0, nh, D });
    ropeBackwardCpu({ x: y, table, R, T, p0, nh, D });
    expectClose(y, x, { abs: 1e-13 }, 'backward(forward(x))');
  });
});

const CASES = [8, 12, 64].flatMap((D) => [
  { B: 1, T: 1, p0: 0, nh: 1, D },
  { B: 3, T: 5, p0: 7, nh: 3, D },
  { B: 2, T: 9, p0: 0, nh: 5, D },
  { B: 1, T: 1, p0: 123, nh: 7, D },
]);

describe('rope backward (GPU)', () => {
  it.each(CASES)('B=$B T=$T p0=$p0 nh=$nh D=$D', async ({ B, T, p0, nh, D }) => {
    const gpu = await testGpu();
    const R = B * T;
    const table = ropeTable(invFreq(D), p0 + T + 3);
    const dy = f32(randomArray(R * nh * D, 71 + D + nh, 2));
    const xb = uploadBuffer(gpu, Float32Array.from(dy));
    const tb = uploadBuffer(gpu, table);
    const rec = new Recorder(gpu);
    ropeBackward(rec, { x: xb, table: tb, R, T, p0, nh, D });
    rec.submit();
    const got = await readF32(gpu, xb, 0, R * nh * D);
    gpu.pool.release(xb);
    gpu.pool.release(tb);
    const want = Float64Array.from(dy);
    ropeBackwardCpu({ x: want, table: Float64Array.from(table), R, T, p0, nh, D });
    expectClose(got, want, { abs: 1e-5, rel: 1e-4 }, `rope backward D=${D}`);
  });

  it.each([8, 64])('backward(forward(x)) == x, D=%i', async (D) => {
    const gpu = await testGpu();
    const B = 2, T = 7, p0 = 300, nh = 3, R = B * T;
    const table = ropeTable(invFreq(D), p0 + T);
    const x = f32(randomArray(R * nh * D, 81 + D, 3));
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const tb = uploadBuffer(gpu, table);
    const rec = new Recorder(gpu);
    ropeForward(rec, { x: xb, table: tb, R, T, p0, nh, D });
    ropeBackward(rec, { x: xb, table: tb, R, T, p0, nh, D });
    rec.submit();
    const got = await readF32(gpu, xb, 0, R * nh * D);
    gpu.pool.release(xb);
    gpu.pool.release(tb);
    // Two f32 rotations with a table whose cos^2 + sin^2 is 1 only to f32 rounding: a few ulp of |x| <= 3.
    expectClose(got, x, { abs: 2e-6 }, `rope round trip D=${D}`);
  });
});
