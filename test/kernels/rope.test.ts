// ropeTable + ropeForward (GPU) vs ropeForwardCpu, and the table itself vs Math.cos / Math.sin.
// Dimension key: B = sequences, T = tokens per sequence, R = B*T rows, nh = heads, D = head dim.

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { ropeForward, ropeForwardCpu, ropeTable } from '../../src/kernels/rope.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

/** Hugging Face default inverse frequencies: theta^(-2i/D), i < D/2. */
function invFreq(D: number, theta = 10000): Float64Array {
  const f = new Float64Array(D / 2);
  for (let i = 0; i < D / 2; i++) f[i] = 1 / theta ** ((2 * i) / D);
  return f;
}

describe('ropeTable', () => {
  it.each([8, 12, 64])('D=%i holds cos then sin of position * frequency', (D) => {
    const freq = invFreq(D, 500000);
    const positions = [0, 1, 2, 17, 100, 1000];
    const table = ropeTable(freq, 1001);
    expect(table.length).toBe(1001 * D);
    const half = D / 2;
    for (const p of positions) {
      const got = new Float64Array(D);
      const want = new Float64Array(D);
      for (let i = 0; i < half; i++) {
        got[i] = table[p * D + i]!;
        got[half + i] = table[p * D + half + i]!;
        want[i] = Math.cos(p * freq[i]!);
        want[half + i] = Math.sin(p * freq[i]!);
      }
      // Allows the angle to be formed in f32 as transformers does (frequency rounded, then the
      // product): off by up to ~2 ulp of p * f <= 2 * p * 2^-24, and cos/sin move by no more than
      // that. A float64 angle is well inside. Plus the f32 rounding of the stored value itself.
      const abs = 2 * p * 2 ** -24 + 1e-7;
      expectClose(got, want, { abs }, `rope table D=${D} p=${p}`);
    }
  });

  it('is exactly cos=1, sin=0 at position 0', () => {
    const t = ropeTable(invFreq(12), 1);
    expect(Array.from(t)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  });
});

const CASES = [8, 12, 64].flatMap((D) => [
  { B: 1, T: 1, p0: 0, nh: 1, D },
  { B: 3, T: 5, p0: 7, nh: 3, D },
  { B: 2, T: 9, p0: 0, nh: 5, D },
  { B: 1, T: 1, p0: 123, nh: 7, D }, // one decode step deep into a sequence
]);

describe('rope forward', () => {
  it.each(CASES)('B=$B T=$T p0=$p0 nh=$nh D=$D', async ({ B, T, p0, nh, D }) => {
    const gpu = await testGpu();
    const R = B * T;
    const table = ropeTable(invFreq(D), p0 + T + 3);
    const x = f32(randomArray(R * nh * D, 31 + D + nh, 2));
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const tb = uploadBuffer(gpu, table);
    const rec = new Recorder(gpu);
    ropeForward(rec, { x: xb, table: tb, R, T, p0, nh, D });
    rec.submit();
    const got = await readF32(gpu, xb, 0, R * nh * D);
    const want = Float64Array.from(x);
    ropeForwardCpu({ x: want, table: Float64Array.from(table), R, T, p0, nh, D });
    expectClose(got, want, { abs: 1e-5, rel: 1e-4 }, `rope D=${D}`);
  });

  it('leaves rows at position 0 unchanged', async () => {
    const gpu = await testGpu();
    const R = 5, T = 1, nh = 3, D = 12;
    const table = ropeTable(invFreq(D), 4);
    const x = Float32Array.from(randomArray(R * nh * D, 37, 5));
    const xb = uploadBuffer(gpu, x);
    const tb = uploadBuffer(gpu, table);
    const rec = new Recorder(gpu);
    ropeForward(rec, { x: xb, table: tb, R, T, p0: 0, nh, D });
    rec.submit();
    expect(Array.from(await readF32(gpu, xb, 0, R * nh * D))).toEqual(Array.from(x));
  });
});
