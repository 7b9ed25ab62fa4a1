// Attention with Gemma's knobs: a score scale other than 1/sqrt(D) (query_pre_attn_scalar^-0.5) and
// attn_logit_softcapping (scores -> cap * tanh(score / cap) before the mask and softmax). Forward and
// backward on the GPU vs the float64 twins on odd shapes (GQA, cache with p0 > 0, sliding window,
// each work layout), and the backward twin vs central finite differences of the forward twin.
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence,
// p0 = position of the first query row, nH / nKV = query / key-value heads, D = head dim, R = B*T.
// q, dO, dQ: [R, nH, D]   k, v, dK, dV: [B, S, nKV, D]   o: [R, nH, D]   lse: [R, nH]

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { type AttentionArgs, attentionBackward, attentionBackwardCpu, attentionForward, attentionForwardCpu } from '../../src/kernels/attention.ts';
import { layoutCases, withAttentionLayout } from '../helpers/attention-layouts.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

type Shape = Omit<AttentionArgs<unknown>, 'q' | 'k' | 'v' | 'o' | 'lse' | 'seg'>;

interface Inputs {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  dO: Float64Array;
}

/** Scores of a few units, so a cap of 1.5 to 4 bends them well away from the identity. */
function inputs(s: Shape, seed: number): Inputs {
  const R = s.B * s.T;
  return {
    q: f32(randomArray(R * s.nH * s.D, seed, 2.5)),
    k: f32(randomArray(s.B * s.S * s.nKV * s.D, seed + 1, 2.5)),
    v: f32(randomArray(s.B * s.S * s.nKV * s.D, seed + 2)),
    dO: f32(randomArray(R * s.nH * s.D, seed + 3)),
  };
}

async function runGpu(s: Shape, x: Inputs) {
  const gpu = await testGpu();
  const R = s.B * s.T;
  const nQ = R * s.nH * s.D;
  const nK = s.B * s.S * s.nKV * s.D;
  const up = (a: Float64Array) => uploadBuffer(gpu, Float32Array.from(a));
  const nan = (n: number) => uploadBuffer(gpu, new Float32Array(n).fill(NaN));
  const [qb, kb, vb, dOb] = [up(x.q), up(x.k), up(x.v), up(x.dO)];
  const [ob, lb, dQb, dKb, dVb] = [nan(nQ), nan(R * s.nH), nan(nQ), nan(nK), nan(nK)];
  const rec = new Recorder(gpu);
  const fwd = { ...s, q: qb, k: kb, v: vb, o: ob, lse: lb };
  attentionForward(rec, fwd);
  attentionBackward(rec, { ...fwd, dO: dOb, dQ: dQb, dK: dKb, dV: dVb });
  rec.submit();
  const out = {
    o: await readF32(gpu, ob, 0, nQ), lse: await readF32(gpu, lb, 0, R * s.nH),
    dQ: await readF32(gpu, dQb, 0, nQ), dK: await readF32(gpu, dKb, 0, nK), dV: await readF32(gpu, dVb, 0, nK),
  };
  for (const b of [qb, kb, vb, dOb, ob, lb, dQb, dKb, dVb]) gpu.pool.release(b);
  return out;
}

function runCpu(s: Shape, x: Inputs) {
  const R = s.B * s.T;
  const nK = s.B * s.S * s.nKV * s.D;
  const o = new Float64Array(R * s.nH * s.D);
  const lse = new Float64Array(R * s.nH);
  attentionForwardCpu({ ...s, q: x.q, k: x.k, v: x.v, o, lse });
  const g = { dQ: new Float64Array(R * s.nH * s.D), dK: new Float64Array(nK), dV: new Float64Array(nK) };
  attentionBackwardCpu({ ...s, ...x, o, lse, ...g });
  return { o, lse, ...g };
}

function expectAllClose(got: Awaited<ReturnType<typeof runGpu>>, want: ReturnType<typeof runCpu>): void {
  const tol = { abs: 1e-5, rel: 1e-4 };
  expectClose(got.o, want.o, tol, 'o');
  expectClose(got.lse, want.lse, tol, 'lse');
  expectClose(got.dQ, want.dQ, tol, 'dQ');
  expectClose(got.dK, want.dK, tol, 'dK');
  expectClose(got.dV, want.dV, tol, 'dV');
}

describe('attention twins with a scale and a softcap', () => {
  it.each([
    { name: 'GQA B=2', B: 2, T: 3, S: 3, p0: 0, nH: 4, nKV: 2, D: 4, window: 0, scale: 0.3, softcap: 1.5 },
    { name: 'cache p0>0 window 2', B: 1, T: 4, S: 6, p0: 1, nH: 2, nKV: 1, D: 4, window: 2, scale: 0.7, softcap: 2 },
  ])('$name: backward vs finite differences', ({ name: _name, ...s }) => {
    const R = s.B * s.T;
    const x = inputs(s, 17 + s.T);
    const loss = (): number => {
      const o = new Float64Array(R * s.nH * s.D);
      attentionForwardCpu({ ...s, q: x.q, k: x.k, v: x.v, o, lse: new Float64Array(R * s.nH) });
      return o.reduce((acc, val, i) => acc + val * x.dO[i]!, 0);
    };
    const numeric = (at: Float64Array): Float64Array =>
      at.map((val, i) => {
        const h = 1e-5;
        at[i] = val + h;
        const up = loss();
        at[i] = val - h;
        const down = loss();
        at[i] = val;
        return (up - down) / (2 * h);
      });
    const got = runCpu(s, x);
    expectClose(got.dQ, numeric(x.q), { abs: 1e-8, rel: 1e-6 }, 'dQ vs finite differences');
    expectClose(got.dK, numeric(x.k), { abs: 1e-8, rel: 1e-6 }, 'dK vs finite differences');
    expectClose(got.dV, numeric(x.v), { abs: 1e-8, rel: 1e-6 }, 'dV vs finite differences');
  });

  it('the scale and the cap each change the output', () => {
    const s: Shape = { B: 1, T: 5, S: 5, p0: 0, nH: 2, nKV: 1, D: 8, window: 0 };
    const x = inputs(s, 3);
    const plain = runCpu(s, x).o;
    const scaled = runCpu({ ...s, scale: 0.25 }, x).o;
    const capped = runCpu({ ...s, softcap: 1 }, x).o;
    const huge = runCpu({ ...s, softcap: 1e6 }, x).o;
    const diff = (a: Float64Array, b: Float64Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    expect(diff(plain, scaled)).toBeGreaterThan(1e-3);
    expect(diff(plain, capped)).toBeGreaterThan(1e-3);
    expect(diff(plain, huge)).toBeLessThan(1e-9); // tanh(x) ~ x far below the cap
  });
});

const HEADS = [
  { nH: 6, nKV: 2 },
  { nH: 5, nKV: 1 },
];

const LAYOUTS: (Omit<Shape, 'nH' | 'nKV' | 'D'> & { name: string })[] = [
  { name: 'train B=2 S=T', B: 2, T: 7, S: 7, p0: 0, window: 0, scale: 0.25, softcap: 3 },
  { name: 'cache B=1 S>T p0>0', B: 1, T: 5, S: 16, p0: 9, window: 0, scale: 1 / Math.sqrt(3), softcap: 2 },
  { name: 'train sliding window 3', B: 2, T: 9, S: 9, p0: 0, window: 3, scale: 0.4, softcap: 1.5 },
  { name: 'scale only, cache sliding window 3', B: 1, T: 4, S: 11, p0: 6, window: 3, scale: 0.2 },
];

describe('attention with a scale and a softcap (GPU)', () => {
  it.each([8, 12].flatMap((D) => HEADS.flatMap((h) => LAYOUTS.map((l) => ({ ...l, ...h, D })))))('$name nH=$nH nKV=$nKV D=$D', async ({ name: _name, ...s }) => {
    const x = inputs(s, 51 + s.D + s.nH + s.T);
    expectAllClose(await runGpu(s, x), runCpu(s, x));
  });

  it.each(layoutCases(LAYOUTS.slice(0, 3)))('$layout $name', async ({ name: _name, w, layout: _layout, ...s }) => {
    const gpu = await testGpu();
    const x = inputs(s, 57 + s.T);
    expectAllClose(await withAttentionLayout(gpu, w, () => runGpu(s, x)), runCpu(s, x));
  });
});
