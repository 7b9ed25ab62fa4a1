// gegluForward / gegluBackward (GPU) vs their float64 twins, the twins vs torch's formula and central
// finite differences, and finite results for large |gate| (where x^3 and exp overflow f32).
// Dimension key: N = tokens * intermediate.   gate, up, out, dout, dgate, dup: [N]

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { gegluBackward, gegluBackwardCpu, gegluForward, gegluForwardCpu } from '../../src/kernels/geglu.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

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
  const gate = f32(randomArray(N, seed, 6));
  // Large |gate|: x^3 overflows f32 past ~7e12, exp(2u) past |x| ~ 10.
  const big = [8, -8, 20, -20, 100, -100, 1e13, -1e13, 1e30, -1e30, 1e-4, -1e-4, 0];
  for (let i = 0; i < Math.min(N, big.length); i++) gate[(i * 7) % N] = Math.fround(big[i]!);
  return { gate, up: f32(randomArray(N, seed + 1, 2)), dout: f32(randomArray(N, seed + 2)) };
}

describe('geglu twins', () => {
  it('forward is 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) * up (torch gelu approximate="tanh")', () => {
    // The formula evaluated by Python's math module in float64, written out so a slip in the twin's
    // constants (sqrt(2/pi), 0.044715) or its 0.5 fails here.
    const x = Float64Array.from([-3, -1, -0.5, 0, 0.5, 1, 3]);
    const want = [-0.0036373920817729943, -0.15880800939172324, -0.15428599017485606, 0, 0.34571400982514394, 0.8411919906082768, 2.996362607918227];
    const out = new Float64Array(7);
    gegluForwardCpu({ gate: x, up: new Float64Array(7).fill(1), out, N: 7 });
    expectClose(out, want, { abs: 1e-15, rel: 1e-13 }, 'gelu_tanh');
  });

  it('backward matches finite differences of the forward', () => {
    const N = 11;
    const gate = randomArray(N, 3, 4);
    const up = randomArray(N, 4, 2);
    const G = randomArray(N, 5);
    const loss = (): number => {
      const out = new Float64Array(N);
      gegluForwardCpu({ gate, up, out, N });
      return out.reduce((acc, v, i) => acc + v * G[i]!, 0);
    };
    const dgate = new Float64Array(N);
    const dup = new Float64Array(N);
    gegluBackwardCpu({ gate, up, dout: G, dgate, dup, N });
    expectClose(dgate, numericGrad(gate, loss), { abs: 1e-8, rel: 1e-7 }, 'dgate vs finite differences');
    expectClose(dup, numericGrad(up, loss), { abs: 1e-8, rel: 1e-7 }, 'dup vs finite differences');
  });

  it('saturates cleanly for large |gate|', () => {
    const gate = Float64Array.from([-1e30, -1000, -100, 100, 1000, 1e30]);
    const N = gate.length;
    const dgate = new Float64Array(N);
    const dup = new Float64Array(N);
    gegluBackwardCpu({ gate, up: new Float64Array(N).fill(1), dout: new Float64Array(N).fill(1), dgate, dup, N });
    expectClose(dgate, [0, 0, 0, 1, 1, 1], { abs: 1e-30 }, 'dgate');
    expectClose(dup, [0, 0, 0, 100, 1000, 1e30], { abs: 1e-30, rel: 1e-15 }, 'dup');
  });
});

describe('geglu (GPU)', () => {
  // 1 and 63 leave threads idle; 1000 is not a multiple of the workgroup.
  it.each([1, 63, 64, 1000, 4099])('forward and backward, N=%i', async (N) => {
    const gpu = await testGpu();
    const x = inputs(N, 71 + N);
    const bufs = [x.gate, x.up, x.dout].map((a) => uploadBuffer(gpu, Float32Array.from(a)));
    const [gb, ub, db] = bufs as [GPUBuffer, GPUBuffer, GPUBuffer];
    const nan = () => uploadBuffer(gpu, new Float32Array(N).fill(NaN));
    const [ob, dgb, dub] = [nan(), nan(), nan()];
    const rec = new Recorder(gpu);
    gegluForward(rec, { gate: gb, up: ub, out: ob, N });
    gegluBackward(rec, { gate: gb, up: ub, dout: db, dgate: dgb, dup: dub, N });
    rec.submit();
    const out = await readF32(gpu, ob, 0, N);
    const dgate = await readF32(gpu, dgb, 0, N);
    const dup = await readF32(gpu, dub, 0, N);
    for (const b of [...bufs, ob, dgb, dub]) gpu.pool.release(b);
    const want = { out: new Float64Array(N), dgate: new Float64Array(N), dup: new Float64Array(N) };
    gegluForwardCpu({ ...x, out: want.out, N });
    gegluBackwardCpu({ ...x, dgate: want.dgate, dup: want.dup, N });
    for (const v of [...out, ...dgate, ...dup]) expect(Number.isFinite(v)).toBe(true);
    expectClose(out, want.out, { abs: 1e-5, rel: 1e-4 }, 'out');
    expectClose(dgate, want.dgate, { abs: 1e-5, rel: 1e-4 }, 'dgate');
    expectClose(dup, want.dup, { abs: 1e-5, rel: 1e-4 }, 'dup');
  });
});
