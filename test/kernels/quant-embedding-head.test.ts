// The other readers of frozen weights, on weights kept in ggml's block formats: the embedding lookup
// (embeddingForward) and the LM head (its logits, and src/model/lm-head.ts's loss over the head's
// chunks), against ggml's own dequantization of ggml's own quantization, in float64 on the CPU.
// Dimension key: T = tokens, V = vocab rows, H = hidden (a multiple of the block size), R = rows.
// ids: [T] u32   W: [V, H] quantized   out: [T, H] f32   hidden: [R, H] f32   targets: [R] i32

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { IGNORE_INDEX } from '../../src/kernels/cross-entropy.ts';
import { embeddingForward, embeddingForwardCpu } from '../../src/kernels/embedding.ts';
import { matmulForward } from '../../src/kernels/matmul.ts';
import { lossSum } from '../../src/model/lm-head.ts';
import { QUANT_TYPES, typeInfo } from '../../src/quant/ggml-types.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { testQuantMatrix } from '../helpers/quant-weights.ts';

/** Ids spread over the table, the first and last row and a repeat among them. */
function tokenIds(T: number, V: number, seed: number): Uint32Array {
  const r = randomArray(T, seed);
  const ids = Uint32Array.from(r, (v) => Math.floor(((v + 1) / 2) * V) % V);
  ids[0] = 0;
  if (T > 1) ids[T - 1] = V - 1;
  if (T > 2) ids[1] = 0;
  return ids;
}

function cases(bs: number) {
  return [
    { V: 37, H: bs, T: 1, chunkRows: undefined },
    { V: 97, H: 3 * bs, T: 17, chunkRows: 10 }, // 10 chunks, the last one 7 rows
    { V: 37, H: 2 * bs, T: 3, chunkRows: undefined },
  ];
}

describe.each(QUANT_TYPES)('%s weights', (type) => {
  const bs = typeInfo(type).blockSize;

  it.each(cases(bs))('embedding V=$V H=$H T=$T chunkRows=$chunkRows', async ({ V, H, T, chunkRows }) => {
    const gpu = await testGpu();
    const w = testQuantMatrix(gpu, type, V, H, randomArray(V * H, 11 + V), chunkRows);
    const ids = tokenIds(T, V, 12 + T);
    // The output starts as garbage: every row must be overwritten by exactly one chunk.
    const outb = uploadBuffer(gpu, Float32Array.from(f32(randomArray(T * H, 13, 1e3))));
    const rec = new Recorder(gpu);
    embeddingForward(rec, { ids: uploadBuffer(gpu, ids), w: w.gpu, out: outb, T });
    rec.submit();
    const want = new Float64Array(T * H);
    embeddingForwardCpu({ ids, w: w.cpu, out: want, T });
    // ggml's f32 formula (e.g. d1 * q - m1) in the same order: equal but for a fused multiply-add,
    // which a GPU compiler may use, at most an ulp of weights in [-1, 1].
    expectClose(await readF32(gpu, outb, 0, T * H), want, { abs: 2e-7, rel: 0 }, `embedding ${type}`);
  });

  it.each(cases(bs))('LM head: logits and the loss over its chunks, V=$V H=$H R=$T chunkRows=$chunkRows', async ({ V, H, T: R, chunkRows }) => {
    const gpu = await testGpu();
    const head = testQuantMatrix(gpu, type, V, H, randomArray(V * H, 21 + V), chunkRows);
    if (chunkRows) expect(head.gpu.chunks.length).toBe(Math.ceil(V / chunkRows));
    const hidden = f32(randomArray(R * H, 22 + R));
    const targets = Int32Array.from(tokenIds(R, V, 23));
    if (R > 2) targets[2] = IGNORE_INDEX;
    const hb = uploadBuffer(gpu, Float32Array.from(hidden));
    // logits[r, v] = hidden[r] . W[v], and the mean-free sum of -log softmax at the targets.
    const logits = new Float64Array(R * V);
    for (let r = 0; r < R; r++) {
      for (let v = 0; v < V; v++) {
        let s = 0;
        for (let h = 0; h < H; h++) s += hidden[r * H + h]! * head.cpu.data[v * H + h]!;
        logits[r * V + v] = s;
      }
    }
    let sum = 0;
    let count = 0;
    for (let r = 0; r < R; r++) {
      if (targets[r] === IGNORE_INDEX) continue;
      const row = logits.subarray(r * V, (r + 1) * V);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      sum += lse - row[targets[r]!]!;
      count++;
    }
    const lb = uploadBuffer(gpu, new Float32Array(R * V));
    const rec = new Recorder(gpu);
    matmulForward(rec, { x: hb, w: head.gpu, y: lb, M: R });
    rec.submit();
    expectClose(await readF32(gpu, lb, 0, R * V), logits, { abs: 1e-5, rel: 1e-4 }, `logits ${type}`);
    const got = await lossSum(gpu, head.gpu, hb, targets);
    expect(got.count).toBe(count);
    expectClose([got.sum], [sum], { abs: 1e-4, rel: 1e-5 }, `loss ${type}`);
  });
});
