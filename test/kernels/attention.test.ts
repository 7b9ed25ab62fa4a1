// attentionForward (GPU) vs attentionForwardCpu, output and log-sum-exp, plus causality on the GPU.
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence,
// p0 = position of the first query row, nH / nKV = query / key-value heads, D = head dim, R = B*T.
// q: [R, nH, D]   k, v: [B, S, nKV, D]   o: [R, nH, D]   lse: [R, nH]

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { type AttentionArgs, attentionForward, attentionForwardCpu } from '../../src/kernels/attention.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { layoutCases, withAttentionLayout } from '../helpers/attention-layouts.ts';
import { testGpu } from '../helpers/gpu.ts';

type Shape = Omit<AttentionArgs<unknown>, 'q' | 'k' | 'v' | 'o' | 'lse' | 'seg'>;

interface Inputs {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
}

function inputs(s: Shape, seed: number): Inputs {
  const R = s.B * s.T;
  const q = f32(randomArray(R * s.nH * s.D, seed, 2));
  const k = f32(randomArray(s.B * s.S * s.nKV * s.D, seed + 1, 2));
  const v = f32(randomArray(s.B * s.S * s.nKV * s.D, seed + 2));
  // Cache slots past the last key position (p0 + T - 1) hold garbage that must never be read.
  for (let b = 0; b < s.B; b++) {
    for (let slot = s.p0 + s.T; slot < s.S; slot++) {
      const at = (b * s.S + slot) * s.nKV * s.D;
      k.fill(1e4, at, at + s.nKV * s.D);
      v.fill(-1e4, at, at + s.nKV * s.D);
    }
  }
  return { q, k, v };
}

async function runGpu(s: Shape, x: Inputs): Promise<{ o: Float32Array; lse: Float32Array }> {
  const gpu = await testGpu();
  const R = s.B * s.T;
  const qb = uploadBuffer(gpu, Float32Array.from(x.q));
  const kb = uploadBuffer(gpu, Float32Array.from(x.k));
  const vb = uploadBuffer(gpu, Float32Array.from(x.v));
  const ob = uploadBuffer(gpu, new Float32Array(R * s.nH * s.D).fill(NaN));
  const lb = uploadBuffer(gpu, new Float32Array(R * s.nH).fill(NaN));
  const rec = new Recorder(gpu);
  attentionForward(rec, { ...s, q: qb, k: kb, v: vb, o: ob, lse: lb });
  rec.submit();
  const o = await readF32(gpu, ob, 0, R * s.nH * s.D);
  const lse = await readF32(gpu, lb, 0, R * s.nH);
  for (const b of [qb, kb, vb, ob, lb]) gpu.pool.release(b);
  return { o, lse };
}

function runCpu(s: Shape, x: Inputs): { o: Float64Array; lse: Float64Array } {
  const R = s.B * s.T;
  const o = new Float64Array(R * s.nH * s.D);
  const lse = new Float64Array(R * s.nH);
  attentionForwardCpu({ ...s, ...x, o, lse });
  return { o, lse };
}

const HEADS = [
  { nH: 6, nKV: 2 }, // GQA, 3 query heads per kv head
  { nH: 3, nKV: 3 }, // plain multi-head
  { nH: 5, nKV: 1 }, // multi-query
];

const LAYOUTS: (Omit<Shape, 'nH' | 'nKV' | 'D'> & { name: string })[] = [
  { name: 'eval B=2 S=T', B: 2, T: 7, S: 7, p0: 0, window: 0 },
  { name: 'cache B=1 S>T p0>0', B: 1, T: 5, S: 16, p0: 9, window: 0 },
  { name: 'decode T=1', B: 1, T: 1, S: 13, p0: 11, window: 0 },
  { name: 'decode B=3 T=1', B: 3, T: 1, S: 6, p0: 4, window: 0 },
  { name: 'eval sliding window 3', B: 2, T: 9, S: 9, p0: 0, window: 3 },
  { name: 'cache sliding window 3', B: 1, T: 4, S: 11, p0: 6, window: 3 },
];

const CASES = [8, 12, 32].flatMap((D) => HEADS.flatMap((h) => LAYOUTS.map((l) => ({ ...l, ...h, D }))));

describe('attention forward', () => {
  it.each(CASES)('$name nH=$nH nKV=$nKV D=$D', async ({ name: _name, ...s }) => {
    const x = inputs(s, 41 + s.D + s.nH + s.T);
    const got = await runGpu(s, x);
    const want = runCpu(s, x);
    expectClose(got.o, want.o, { abs: 1e-5, rel: 1e-4 }, 'attention o');
    expectClose(got.lse, want.lse, { abs: 1e-5, rel: 1e-4 }, 'attention lse');
  });

  it('a query does not see keys after its position', async () => {
    const s: Shape = { B: 2, T: 8, S: 8, p0: 0, nH: 6, nKV: 2, D: 12, window: 0 };
    const x = inputs(s, 47);
    const before = await runGpu(s, x);
    // Change keys and values at positions > t0 in both sequences.
    const t0 = 3;
    const k = Float64Array.from(x.k);
    const v = Float64Array.from(x.v);
    const alt = f32(randomArray(k.length, 48, 5));
    for (let b = 0; b < s.B; b++) {
      for (let t = t0 + 1; t < s.S; t++) {
        const at = (b * s.S + t) * s.nKV * s.D;
        for (let i = at; i < at + s.nKV * s.D; i++) {
          k[i] = alt[i]!;
          v[i] = -alt[i]!;
        }
      }
    }
    const after = await runGpu(s, { q: x.q, k, v });
    const rowLen = s.nH * s.D;
    for (let b = 0; b < s.B; b++) {
      for (let t = 0; t < s.T; t++) {
        const r = b * s.T + t;
        const o1 = Array.from(before.o.subarray(r * rowLen, (r + 1) * rowLen));
        const o2 = Array.from(after.o.subarray(r * rowLen, (r + 1) * rowLen));
        const l1 = Array.from(before.lse.subarray(r * s.nH, (r + 1) * s.nH));
        const l2 = Array.from(after.lse.subarray(r * s.nH, (r + 1) * s.nH));
        if (t <= t0) {
          expect(o2, `row b=${b} t=${t} output`).toEqual(o1);
          expect(l2, `row b=${b} t=${t} lse`).toEqual(l1);
        } else {
          // Sanity: the change is visible to queries at or after the altered positions.
          expect(o2, `row b=${b} t=${t} output`).not.toEqual(o1);
        }
      }
    }
  });
});

describe('attention forward, each work layout', () => {
  it.each(layoutCases(LAYOUTS))('$layout $name', async ({ name: _name, w, layout: _layout, ...s }) => {
    const gpu = await testGpu();
    const x = inputs(s, 43 + s.T);
    const got = await withAttentionLayout(gpu, w, () => runGpu(s, x));
    const want = runCpu(s, x);
    expectClose(got.o, want.o, { abs: 1e-5, rel: 1e-4 }, 'attention o');
    expectClose(got.lse, want.lse, { abs: 1e-5, rel: 1e-4 }, 'attention lse');
  });
});
