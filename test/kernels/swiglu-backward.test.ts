// swigluBackward (GPU) vs swigluBackwardCpu, the twin vs central finite differences of
// swigluForwardCpu, and finite results for large |gate|.
// Dimension key: N = tokens * intermediate.   gate, up, dout, dgate, dup: [N]

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { swigluBackward, swigluBackwardCpu, swigluForwardCpu } from '../../src/kernels/swiglu.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

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

interface Inputs {
  gate: Float64Array;
  up: Float64Array;
  dout: Float64Array;
}

function inputs(N: number, seed: number): Inputs {
  const gate = f32(randomArray(N, seed, 8));
  // Large |gate|, where a naive exp(-gate) overflows f32 (past ~88) and silu' saturates.
  const big = [20, -20, 40, -40, 90, -90, 100, -100, 1000, -1000, 1e30, -1e30];
  for (let i = 0; i < Math.min(N, big.length); i++) gate[(i * 7) % N] = Math.fround(big[i]!);
  return { gate, up: f32(randomArray(N, seed + 1, 2)), dout: f32(randomArray(N, seed + 2)) };
}

async function runGpu(x: Inputs, N: number): Promise<{ dgate: Float32Array; dup: Float32Array }> {
  const gpu = await testGpu();
  const bufs = [x.gate, x.up, x.dout].map((a) => uploadBuffer(gpu, Float32Array.from(a)));
  const [gb, ub, db] = bufs as [GPUBuffer, GPUBuffer, GPUBuffer];
  const dgb = uploadBuffer(gpu, new Float32Array(N).fill(NaN));
  const dub = uploadBuffer(gpu, new Float32Array(N).fill(NaN));
  const rec = new Recorder(gpu);
  swigluBackward(rec, { gate: gb, up: ub, dout: db, dgate: dgb, dup: dub, N });
  rec.submit();
  const dgate = await readF32(gpu, dgb, 0, N);
  const dup = await readF32(gpu, dub, 0, N);
  for (const b of [...bufs, dgb, dub]) gpu.pool.release(b);
  return { dgate, dup };
}

describe('swiglu backward twin vs finite differences', () => {
  it('dgate and dup', () => {
    const N = 9;
    const gate = randomArray(N, 3, 6);
    const up = randomArray(N, 4, 2);
    const G = randomArray(N, 5);
    const loss = (): number => {
      const out = new Float64Array(N);
      swigluForwardCpu({ gate, up, out, N });
      return out.reduce((acc, v, i) => acc + v * G[i]!, 0);
    };
    const dgate = new Float64Array(N);
    const dup = new Float64Array(N);
    swigluBackwardCpu({ gate, up, dout: G, dgate, dup, N });
    expectClose(dgate, numericGrad(gate, loss), { abs: 1e-8, rel: 1e-7 }, 'dgate vs finite differences');
    expectClose(dup, numericGrad(up, loss), { abs: 1e-8, rel: 1e-7 }, 'dup vs finite differences');
  });

  it('saturates cleanly for large |gate|', () => {
    const gate = Float64Array.from([-1e30, -1000, -100, 100, 1000, 1e30]);
    const N = gate.length;
    const up = new Float64Array(N).fill(1);
    const dout = new Float64Array(N).fill(1);
    const dgate = new Float64Array(N);
    const dup = new Float64Array(N);
    swigluBackwardCpu({ gate, up, dout, dgate, dup, N });
    // silu'(x) -> 0 as x -> -inf and -> 1 as x -> +inf; silu(x) -> 0 and -> x.
    expectClose(dgate, [0, 0, 0, 1, 1, 1], { abs: 1e-30 }, 'dgate');
    expectClose(dup, [0, 0, 0, 100, 1000, 1e30], { abs: 1e-30, rel: 1e-15 }, 'dup');
  });
});

describe('swiglu backward (GPU)', () => {
  // 1 and 63 leave threads idle; 1000 is not a multiple of the workgroup.
  it.each([1, 63, 64, 1000, 4099])('N=%i', async (N) => {
    const x = inputs(N, 61 + N);
    const got = await runGpu(x, N);
    const dgate = new Float64Array(N);
    const dup = new Float64Array(N);
    swigluBackwardCpu({ ...x, dgate, dup, N });
    for (const v of [...got.dgate, ...got.dup]) expect(Number.isFinite(v)).toBe(true);
    expectClose(got.dgate, dgate, { abs: 1e-5, rel: 1e-4 }, 'dgate');
    expectClose(got.dup, dup, { abs: 1e-5, rel: 1e-4 }, 'dup');
  });
});
