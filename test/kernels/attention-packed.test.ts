// Packed rows: several documents in one sequence, attention kept inside each document and RoPE
// positions restarting at each document start. GPU against the twins, and the twins against
// attention run on each document alone.

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { attentionBackward, attentionBackwardCpu, attentionForward, attentionForwardCpu } from '../../src/kernels/attention.ts';
import { ropeBackward, ropeForward, ropeForwardCpu, ropeTable } from '../../src/kernels/rope.ts';
import { segmentStarts } from '../../src/kernels/segments.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

const B = 2, T = 9, nH = 4, nKV = 2, D = 8;
// Row 0: documents of 3, 4 and 2 tokens; row 1: 5 tokens, then 4.
const POSITIONS = [[0, 1, 2, 0, 1, 2, 3, 0, 1], [0, 1, 2, 3, 4, 0, 1, 2, 3]];
const seg = segmentStarts(POSITIONS, T);

describe('packed attention', () => {
  it('segment starts come from position ids', () => {
    expect(Array.from(seg)).toEqual([0, 0, 0, 3, 3, 3, 3, 7, 7, 0, 0, 0, 0, 0, 5, 5, 5, 5]);
  });

  it.each([0, 3])('forward and backward on the GPU equal the twins (window %i)', async (window) => {
    const gpu = await testGpu();
    const R = B * T;
    const x = { q: f32(randomArray(R * nH * D, 1)), k: f32(randomArray(R * nKV * D, 2)), v: f32(randomArray(R * nKV * D, 3)), dO: f32(randomArray(R * nH * D, 4)) };
    const up = (a: Float64Array) => uploadBuffer(gpu, Float32Array.from(a));
    const shape = { B, T, S: T, p0: 0, nH, nKV, D, window };
    const g = { q: up(x.q), k: up(x.k), v: up(x.v), o: up(new Float64Array(R * nH * D)), lse: up(new Float64Array(R * nH)), seg: uploadBuffer(gpu, seg) };
    const grads = { dO: up(x.dO), dQ: up(new Float64Array(R * nH * D)), dK: up(new Float64Array(R * nKV * D)), dV: up(new Float64Array(R * nKV * D)) };
    const rec = new Recorder(gpu);
    attentionForward(rec, { ...shape, ...g });
    attentionBackward(rec, { ...shape, ...g, ...grads });
    rec.submit();
    const c = { q: x.q, k: x.k, v: x.v, o: new Float64Array(R * nH * D), lse: new Float64Array(R * nH), seg: Float64Array.from(seg) };
    attentionForwardCpu({ ...shape, ...c });
    const cg = { dO: x.dO, dQ: new Float64Array(R * nH * D), dK: new Float64Array(R * nKV * D), dV: new Float64Array(R * nKV * D) };
    attentionBackwardCpu({ ...shape, ...c, ...cg });
    const tol = { abs: 1e-5, rel: 1e-4 };
    expectClose(await readF32(gpu, g.o, 0, R * nH * D), c.o, tol, 'o');
    expectClose(await readF32(gpu, grads.dQ, 0, R * nH * D), cg.dQ, tol, 'dQ');
    expectClose(await readF32(gpu, grads.dK, 0, R * nKV * D), cg.dK, tol, 'dK');
    expectClose(await readF32(gpu, grads.dV, 0, R * nKV * D), cg.dV, tol, 'dV');
  });

  it('each packed document attends exactly as if it were alone', () => {
    const R = B * T;
    const q = randomArray(R * nH * D, 11), k = randomArray(R * nKV * D, 12), v = randomArray(R * nKV * D, 13);
    const o = new Float64Array(R * nH * D);
    attentionForwardCpu({ q, k, v, o, lse: new Float64Array(R * nH), B, T, S: T, p0: 0, nH, nKV, D, window: 0, seg: Float64Array.from(seg) });
    // Row 0's second document: tokens 3..6.
    const [start, len] = [3, 4];
    const part = (a: Float64Array, h: number) => a.slice(start * h * D, (start + len) * h * D);
    const alone = new Float64Array(len * nH * D);
    attentionForwardCpu({ q: part(q, nH), k: part(k, nKV), v: part(v, nKV), o: alone, lse: new Float64Array(len * nH), B: 1, T: len, S: len, p0: 0, nH, nKV, D, window: 0 });
    expectClose(part(o, nH), alone, { abs: 1e-12 }, 'document alone');
  });

  it('RoPE restarts positions at each document, forward and backward', async () => {
    const gpu = await testGpu();
    const R = B * T;
    const table = ropeTable(Array.from({ length: D / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / D)), 16);
    const x = f32(randomArray(R * nH * D, 21));
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const tb = uploadBuffer(gpu, table);
    const sb = uploadBuffer(gpu, seg);
    let rec = new Recorder(gpu);
    ropeForward(rec, { x: xb, table: tb, R, T, p0: 0, nh: nH, D, seg: sb });
    rec.submit();
    const want = Float64Array.from(x);
    ropeForwardCpu({ x: want, table: Float64Array.from(table), R, T, p0: 0, nh: nH, D, seg: Float64Array.from(seg) });
    expectClose(await readF32(gpu, xb, 0, R * nH * D), want, { abs: 1e-6, rel: 1e-5 }, 'rope packed');
    // A document's first token is at position 0: unrotated.
    expect(Array.from(want.slice(3 * nH * D, 4 * nH * D))).toEqual(Array.from(x.slice(3 * nH * D, 4 * nH * D)));
    rec = new Recorder(gpu);
    ropeBackward(rec, { x: xb, table: tb, R, T, p0: 0, nh: nH, D, seg: sb });
    rec.submit();
    expectClose(await readF32(gpu, xb, 0, R * nH * D), x, { abs: 2e-6 }, 'rope round trip');
  });
});
