// attentionBackward (GPU, from the GPU forward's o and lse) vs attentionBackwardCpu, and the twin
// vs central finite differences of attentionForwardCpu (so the reference itself is proven right).
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence,
// p0 = position of the first query row, nH / nKV = query / key-value heads, D = head dim, R = B*T.
// q, dO, dQ: [R, nH, D]   k, v, dK, dV: [B, S, nKV, D]   o: [R, nH, D]   lse: [R, nH]

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import {
  type AttentionArgs,
  attentionBackward,
  attentionBackwardCpu,
  attentionForward,
  attentionForwardCpu,
} from '../../src/kernels/attention.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { layoutCases, withAttentionLayout } from '../helpers/attention-layouts.ts';
import { testGpu } from '../helpers/gpu.ts';

type Shape = Omit<AttentionArgs<unknown>, 'q' | 'k' | 'v' | 'o' | 'lse' | 'seg'>;

interface Inputs {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  dO: Float64Array;
}

interface Grads<A extends ArrayLike<number>> {
  dQ: A;
  dK: A;
  dV: A;
}

function inputs(s: Shape, seed: number): Inputs {
  const R = s.B * s.T;
  const q = f32(randomArray(R * s.nH * s.D, seed, 2));
  const k = f32(randomArray(s.B * s.S * s.nKV * s.D, seed + 1, 2));
  const v = f32(randomArray(s.B * s.S * s.nKV * s.D, seed + 2));
  const dO = f32(randomArray(R * s.nH * s.D, seed + 3));
  // Cache slots past the last key position (p0 + T - 1) hold garbage that must never be read.
  for (let b = 0; b < s.B; b++) {
    for (let slot = s.p0 + s.T; slot < s.S; slot++) {
      const at = (b * s.S + slot) * s.nKV * s.D;
      k.fill(1e4, at, at + s.nKV * s.D);
      v.fill(-1e4, at, at + s.nKV * s.D);
    }
  }
  return { q, k, v, dO };
}

/** The GPU forward, then the GPU backward from its o and lse, in one recorder. */
async function runGpu(s: Shape, x: Inputs): Promise<Grads<Float32Array>> {
  const gpu = await testGpu();
  const R = s.B * s.T;
  const nQ = R * s.nH * s.D;
  const nK = s.B * s.S * s.nKV * s.D;
  const [qb, kb, vb, dOb] = [x.q, x.k, x.v, x.dO].map((a) => uploadBuffer(gpu, Float32Array.from(a))) as GPUBuffer[] as [
    GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer,
  ];
  const nan = (n: number): GPUBuffer => uploadBuffer(gpu, new Float32Array(n).fill(NaN));
  const ob = nan(nQ);
  const lb = nan(R * s.nH);
  const dQb = nan(nQ);
  const dKb = nan(nK);
  const dVb = nan(nK);
  const rec = new Recorder(gpu);
  const fwd = { ...s, q: qb, k: kb, v: vb, o: ob, lse: lb };
  attentionForward(rec, fwd);
  attentionBackward(rec, { ...fwd, dO: dOb, dQ: dQb, dK: dKb, dV: dVb });
  rec.submit();
  const dQ = await readF32(gpu, dQb, 0, nQ);
  const dK = await readF32(gpu, dKb, 0, nK);
  const dV = await readF32(gpu, dVb, 0, nK);
  for (const b of [qb, kb, vb, dOb, ob, lb, dQb, dKb, dVb]) gpu.pool.release(b);
  return { dQ, dK, dV };
}

function runCpu(s: Shape, x: Inputs): Grads<Float64Array> {
  const R = s.B * s.T;
  const nK = s.B * s.S * s.nKV * s.D;
  const o = new Float64Array(R * s.nH * s.D);
  const lse = new Float64Array(R * s.nH);
  attentionForwardCpu({ ...s, q: x.q, k: x.k, v: x.v, o, lse });
  const g = { dQ: new Float64Array(R * s.nH * s.D), dK: new Float64Array(nK).fill(NaN), dV: new Float64Array(nK).fill(NaN) };
  attentionBackwardCpu({ ...s, ...x, o, lse, ...g });
  return g;
}

describe('attention backward twin vs finite differences', () => {
  const TINY: (Shape & { name: string })[] = [
    { name: 'GQA B=2 S=T', B: 2, T: 3, S: 3, p0: 0, nH: 4, nKV: 2, D: 3, window: 0 },
    { name: 'cache S>T p0>0, unused slots', B: 1, T: 3, S: 7, p0: 2, nH: 2, nKV: 1, D: 4, window: 0 },
    { name: 'sliding window 2', B: 1, T: 4, S: 6, p0: 1, nH: 2, nKV: 2, D: 2, window: 2 },
  ];
  it.each(TINY)('$name', ({ name: _name, ...s }) => {
    const R = s.B * s.T;
    const x = inputs(s, 5 + s.T);
    const G = x.dO;
    const loss = (): number => {
      const o = new Float64Array(R * s.nH * s.D);
      attentionForwardCpu({ ...s, q: x.q, k: x.k, v: x.v, o, lse: new Float64Array(R * s.nH) });
      return o.reduce((acc, val, i) => acc + val * G[i]!, 0);
    };
    const numericGrad = (at: Float64Array): Float64Array => {
      const h = 1e-5;
      const g = new Float64Array(at.length);
      for (let i = 0; i < at.length; i++) {
        const val = at[i]!;
        at[i] = val + h;
        const up = loss();
        at[i] = val - h;
        const down = loss();
        at[i] = val;
        g[i] = (up - down) / (2 * h);
      }
      return g;
    };
    const got = runCpu(s, x);
    expectClose(got.dQ, numericGrad(x.q), { abs: 1e-8, rel: 1e-6 }, 'dQ vs finite differences');
    expectClose(got.dK, numericGrad(x.k), { abs: 1e-8, rel: 1e-6 }, 'dK vs finite differences');
    expectClose(got.dV, numericGrad(x.v), { abs: 1e-8, rel: 1e-6 }, 'dV vs finite differences');
  });
});

const HEADS = [
  { nH: 6, nKV: 2 }, // GQA, 3 query heads per kv head
  { nH: 3, nKV: 3 }, // plain multi-head
  { nH: 5, nKV: 1 }, // multi-query
];

const LAYOUTS: (Omit<Shape, 'nH' | 'nKV' | 'D'> & { name: string })[] = [
  { name: 'train B=2 S=T', B: 2, T: 7, S: 7, p0: 0, window: 0 },
  { name: 'cache B=1 S>T p0>0', B: 1, T: 5, S: 16, p0: 9, window: 0 },
  { name: 'train sliding window 3', B: 2, T: 9, S: 9, p0: 0, window: 3 },
  { name: 'cache sliding window 3', B: 1, T: 4, S: 11, p0: 6, window: 3 },
];

const CASES = [8, 12, 32].flatMap((D) => HEADS.flatMap((h) => LAYOUTS.map((l) => ({ ...l, ...h, D }))));

describe('attention backward (GPU)', () => {
  it.each(CASES)('$name nH=$nH nKV=$nKV D=$D', async ({ name: _name, ...s }) => {
    const x = inputs(s, 91 + s.D + s.nH + s.T);
    const got = await runGpu(s, x);
    const want = runCpu(s, x);
    expectClose(got.dQ, want.dQ, { abs: 1e-5, rel: 1e-4 }, 'dQ');
    expectClose(got.dK, want.dK, { abs: 1e-5, rel: 1e-4 }, 'dK');
    expectClose(got.dV, want.dV, { abs: 1e-5, rel: 1e-4 }, 'dV');
  });

  it('slots no query sees get exactly 0, and the result is deterministic', async () => {
    const s: Shape = { B: 1, T: 4, S: 12, p0: 5, nH: 4, nKV: 2, D: 8, window: 3 };
    const x = inputs(s, 97);
    const a = await runGpu(s, x);
    const b = await runGpu(s, x);
    expect(Array.from(b.dQ)).toEqual(Array.from(a.dQ));
    expect(Array.from(b.dK)).toEqual(Array.from(a.dK));
    expect(Array.from(b.dV)).toEqual(Array.from(a.dV));
    // Positions 5..8 with window 3 see slots 3..8: slots 0..2 (left behind) and 9..11 (unused) get 0.
    const slot = s.nKV * s.D;
    for (const sl of [0, 1, 2, 9, 10, 11]) {
      expect(Array.from(a.dK.slice(sl * slot, (sl + 1) * slot)), `dK slot ${sl}`).toEqual(new Array(slot).fill(0));
      expect(Array.from(a.dV.slice(sl * slot, (sl + 1) * slot)), `dV slot ${sl}`).toEqual(new Array(slot).fill(0));
    }
    for (const sl of [3, 8]) expect(a.dV.slice(sl * slot, (sl + 1) * slot).some((v) => v !== 0), `dV slot ${sl}`).toBe(true);
  });
});

describe('attention backward (GPU), each work layout', () => {
  it.each(layoutCases(LAYOUTS))('$layout $name', async ({ name: _name, w, layout: _layout, ...s }) => {
    const gpu = await testGpu();
    const x = inputs(s, 93 + s.T);
    const got = await withAttentionLayout(gpu, w, () => runGpu(s, x));
    const want = runCpu(s, x);
    expectClose(got.dQ, want.dQ, { abs: 1e-5, rel: 1e-4 }, 'dQ');
    expectClose(got.dK, want.dK, { abs: 1e-5, rel: 1e-4 }, 'dK');
    expectClose(got.dV, want.dV, { abs: 1e-5, rel: 1e-4 }, 'dV');
  });
});
