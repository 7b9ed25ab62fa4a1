// embeddingForward (GPU) vs embeddingForwardCpu: a lookup, so the rows must match exactly.
// Dimension key: T = tokens, V = vocab rows, H = hidden (a multiple of 4: rows are read as vec4).

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { embeddingForward, embeddingForwardCpu } from '../../src/kernels/embedding.ts';
import type { WeightDtype } from '../../src/kernels/weights.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { testMatrix } from '../helpers/weights.ts';

/** T odd; ids spread over the table, including the first and last row and chunk boundaries. */
function tokenIds(T: number, V: number, seed: number): Uint32Array {
  const ids = new Uint32Array(T);
  const r = randomArray(T, seed);
  for (let t = 0; t < T; t++) ids[t] = Math.floor(((r[t]! + 1) / 2) * V) % V;
  ids[0] = 0;
  if (T > 1) ids[T - 1] = V - 1;
  if (T > 2) ids[1] = ids[0]!; // a repeated id
  return ids;
}

const CASES = [
  { V: 1, H: 4, T: 1, chunkRows: undefined },
  { V: 23, H: 20, T: 13, chunkRows: 6 }, // 4 chunks: 6, 6, 6, 5 rows
  { V: 97, H: 36, T: 101, chunkRows: 10 }, // 10 chunks, the last one with 7 rows
  { V: 50, H: 132, T: 33, chunkRows: undefined },
];

describe.each([
  ['f32', 'f16'],
  ['f16', 'f16'],
  ['f16', 'nof16'],
  ['bf16', 'f16'],
  ['bf16', 'nof16'],
] as [WeightDtype, 'f16' | 'nof16'][])('embedding with a %s table (device %s)', (dtype, variant) => {
  it.each(CASES)('V=$V H=$H T=$T chunkRows=$chunkRows', async ({ V, H, T, chunkRows }) => {
    const gpu = await testGpu(variant);
    const w = testMatrix(gpu, dtype, V, H, randomArray(V * H, 11 + V), chunkRows);
    if (chunkRows !== undefined) expect(w.gpu.chunks.length).toBe(Math.ceil(V / chunkRows));
    const ids = tokenIds(T, V, 12 + T);
    // The output starts as garbage: every row must be overwritten by exactly one chunk.
    const out0 = f32(randomArray(T * H, 13, 1e3));
    const idb = uploadBuffer(gpu, ids);
    const outb = uploadBuffer(gpu, Float32Array.from(out0));
    const rec = new Recorder(gpu);
    embeddingForward(rec, { ids: idb, w: w.gpu, out: outb, T });
    rec.submit();
    const got = await readF32(gpu, outb, 0, T * H);
    const want = new Float64Array(T * H);
    embeddingForwardCpu({ ids, w: w.cpu, out: want, T });
    // A copy: exact, whatever the storage dtype (the CPU twin sees the values the GPU sees).
    expectClose(got, want, { abs: 0, rel: 0 }, `embedding ${dtype}`);
  });
});
