// swigluForward (GPU) vs swigluForwardCpu: out = silu(gate) * up.
// Dimension key: N = tokens * intermediate.   gate, up, out: [N] f32

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { swigluForward, swigluForwardCpu } from '../../src/kernels/swiglu.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

async function run(gate: Float64Array, up: Float64Array): Promise<{ got: Float32Array; want: Float64Array }> {
  const gpu = await testGpu();
  const N = gate.length;
  const gb = uploadBuffer(gpu, Float32Array.from(gate));
  const ub = uploadBuffer(gpu, Float32Array.from(up));
  const ob = uploadBuffer(gpu, new Float32Array(N).fill(NaN));
  const rec = new Recorder(gpu);
  swigluForward(rec, { gate: gb, up: ub, out: ob, N });
  rec.submit();
  const got = await readF32(gpu, ob, 0, N);
  const want = new Float64Array(N);
  swigluForwardCpu({ gate, up, out: want, N });
  return { got, want };
}

describe('swiglu', () => {
  it.each([1, 3, 63, 65, 1001, 12345])('N=%i', async (N) => {
    const gate = f32(randomArray(N, 51 + N, 6));
    const up = f32(randomArray(N, 52 + N, 3));
    const { got, want } = await run(gate, up);
    expectClose(got, want, { abs: 1e-5, rel: 1e-4 }, 'swiglu');
  });

  it('stays finite for large negative and positive gates', async () => {
    // exp(-x) overflows f32 from x < -88.7: silu must give -0 there, not NaN.
    const big = [30, -30, 50, -50, 88, -88, 89, -89, 100, -100, 1e4, -1e4];
    const gate = f32([...big, 0, -0.5, 0.5]);
    const up = f32(gate.map((_, i) => (i % 2 ? 1.5 : -0.75)));
    const { got, want } = await run(gate, up);
    const nonFinite = Array.from(got).flatMap((g, i) => (Number.isFinite(g) ? [] : [`gate ${gate[i]} -> ${g}`]));
    expect(nonFinite).toEqual([]);
    // silu(-x) for large x is x * exp(-x): tiny; silu(x) for large x is x. abs 1e-5 covers the former.
    expectClose(got, want, { abs: 1e-5, rel: 1e-4 }, 'swiglu large gates');
  });
});
