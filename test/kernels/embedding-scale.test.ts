// The embedding scale (Gemma's embed_scale) on the GPU vs the twins: the forward multiplies every
// looked-up row, over a table in several chunks; the backward multiplies each id's summed gradient,
// over dE in several binding windows.
// Dimension key: T = tokens, V = vocab rows, H = hidden (a multiple of 4), U = distinct ids.

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { embeddingBackward, embeddingBackwardCpu, embeddingForward, embeddingForwardCpu, embeddingGradPlan } from '../../src/kernels/embedding.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { testMatrix } from '../helpers/weights.ts';

const ids = (T: number, V: number) => Uint32Array.from({ length: T }, (_, t) => (t * 37 + 3) % V);

describe('embedding scale', () => {
  it.each([
    { dtype: 'bf16' as const, V: 97, H: 36, T: 29, chunkRows: 10, scale: 25.25 },
    { dtype: 'f32' as const, V: 23, H: 20, T: 13, chunkRows: 6, scale: Math.fround(Math.sqrt(20)) },
  ])('forward, $dtype table in chunks of $chunkRows, scale $scale', async ({ dtype, V, H, T, chunkRows, scale }) => {
    const gpu = await testGpu();
    const w = testMatrix(gpu, dtype, V, H, randomArray(V * H, 5 + V), chunkRows);
    expect(w.gpu.chunks.length).toBeGreaterThan(1);
    const tok = ids(T, V);
    const idb = uploadBuffer(gpu, tok);
    const outb = uploadBuffer(gpu, new Float32Array(T * H).fill(NaN));
    const rec = new Recorder(gpu);
    embeddingForward(rec, { ids: idb, w: w.gpu, out: outb, T, scale });
    rec.submit();
    const got = await readF32(gpu, outb, 0, T * H);
    const want = new Float64Array(T * H);
    embeddingForwardCpu({ ids: tok, w: w.cpu, out: want, T, scale });
    const plain = new Float64Array(T * H);
    embeddingForwardCpu({ ids: tok, w: w.cpu, out: plain, T });
    expectClose(want, plain.map((v) => v * scale), { abs: 0, rel: 1e-15 }, 'twin scales');
    // One f32 product per value.
    expectClose(got, want, { abs: 0, rel: 1e-7 }, 'scaled rows');
    for (const b of [idb, outb]) gpu.pool.release(b);
  });

  it('backward over dE windows of 16 rows', async () => {
    const gpu = await testGpu();
    const V = 50, H = 20, T = 33, scale = 34;
    const tok = ids(T, V);
    const plan = embeddingGradPlan(tok);
    const U = plan.uniqueIds.length;
    const dx = f32(randomArray(T * H, 7));
    const dE0 = f32(randomArray(V * H, 8, 10));
    const dEb = uploadBuffer(gpu, Float32Array.from(dE0));
    const rec = new Recorder(gpu);
    embeddingBackward(rec, {
      dx: uploadBuffer(gpu, Float32Array.from(dx)), order: uploadBuffer(gpu, plan.order), starts: uploadBuffer(gpu, plan.starts),
      uniqueIds: uploadBuffer(gpu, plan.uniqueIds), U, H, dE: dEb, accumulate: true, rowsPerBinding: 16, scale,
    });
    rec.submit();
    const got = await readF32(gpu, dEb, 0, V * H);
    const want = Float64Array.from(dE0);
    embeddingBackwardCpu({ dx, ...plan, U, H, dE: want, accumulate: true, scale });
    const unscaled = Float64Array.from(dE0);
    embeddingBackwardCpu({ dx, ...plan, U, H, dE: unscaled, accumulate: true });
    expect(want.some((v, i) => Math.abs(v - unscaled[i]!) > 1e-3)).toBe(true);
    expectClose(got, want, { abs: 1e-4, rel: 1e-6 }, 'dE');
  });
});
