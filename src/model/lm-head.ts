// The LM head and the loss, without [T, V] logits in memory: rows in chunks, the vocabulary in the
// weight's own chunks, each chunk's logits folded into a running log-sum-exp (kernels/cross-entropy).
// A model with a final logit softcap (Gemma) caps each block of logits before anything reads it.
// Dimension key: R = rows, Rc = rows per chunk, V = vocab, Vc = vocab rows of one weight chunk, H = hidden.

import type { Gpu } from '../gpu/device.ts';
import { type Binding, readBuffer, readF32, Recorder, STORAGE, uploadBuffer } from '../gpu/recorder.ts';
import { crossEntropyChunkForward, lossesFromState } from '../kernels/cross-entropy.ts';
import { matmulForward } from '../kernels/matmul.ts';
import { softcapForward } from '../kernels/softcap.ts';
import type { GpuMatrix } from '../kernels/weights.ts';

/** Logits of one chunk are at most this many bytes (and one storage binding). */
const LOGITS_CHUNK_BYTES = 64 * 1024 * 1024;
/** Storage-binding offsets must be multiples of 256 bytes; 64 rows of f32 vec4 state are. */
const ROW_ALIGN = 64;

export function rowsPerChunk(gpu: Gpu, head: GpuMatrix, R: number): number {
  const widest = Math.max(...head.chunks.map((c) => c.rows));
  const limit = Math.min(LOGITS_CHUNK_BYTES, gpu.limits.maxStorageBufferBindingSize);
  const rows = Math.floor(limit / (widest * 4));
  if (rows >= R) return R;
  return Math.max(ROW_ALIGN, Math.floor(rows / ROW_ALIGN) * ROW_ALIGN);
}

/** One block of logits: rows r0 .. r0+rows of the hidden states against one chunk of the head. */
export interface LogitsBlock {
  /** hidden[r0 : r0+rows], targets and loss state of those rows, as bindings. */
  x: Binding;
  targets: Binding;
  state: Binding;
  rows: number;
  r0: number;
  /** The head chunk as a one-chunk matrix, and the vocabulary id of its first row. */
  w: GpuMatrix;
  v0: number;
  firstChunk: boolean;
}

/**
 * Walks the [R, V] logits block by block (rows in chunks, the vocabulary in the head's chunks), so
 * no more than [Rc, Vc] logits exist at once. hidden: [R, H]  targets: [R] i32  state: [R, 4]
 */
export function forEachLogitsBlock(
  gpu: Gpu,
  head: GpuMatrix,
  b: { hidden: GPUBuffer; targets: GPUBuffer; state: GPUBuffer; R: number },
  visit: (block: LogitsBlock) => void,
): void {
  const H = head.cols;
  const Rc = rowsPerChunk(gpu, head, b.R);
  for (let r0 = 0; r0 < b.R; r0 += Rc) {
    const rows = Math.min(Rc, b.R - r0);
    head.chunks.forEach((c, i) =>
      visit({
        x: { buffer: b.hidden, offset: r0 * H * 4, size: rows * H * 4 },
        targets: { buffer: b.targets, offset: r0 * 4, size: rows * 4 },
        state: { buffer: b.state, offset: r0 * 16, size: rows * 16 },
        rows,
        r0,
        w: { dtype: head.dtype, rows: c.rows, cols: H, chunks: [{ ...c, row0: 0 }] },
        v0: c.row0,
        firstChunk: i === 0,
      }),
    );
  }
}

/** How many logits blocks forEachLogitsBlock walks for R rows. */
export function logitsBlockCount(gpu: Gpu, head: GpuMatrix, R: number): number {
  return Math.ceil(R / rowsPerChunk(gpu, head, R)) * head.chunks.length;
}

/** Floats of the largest logits block: [Rc, Vc]. */
export function logitsBlockFloats(gpu: Gpu, head: GpuMatrix, R: number): number {
  return rowsPerChunk(gpu, head, R) * Math.max(...head.chunks.map((c) => c.rows));
}

/** logits = cap * tanh(logits / cap) over a block of n logits, when the model has a cap. */
export function capLogits(rec: Recorder, logits: GPUBuffer, n: number, cap: number | null | undefined): void {
  if (cap) softcapForward(rec, { x: logits, N: n, cap });
}

/**
 * Sum of -log p(target) over rows with a target, and their count. `softcap`: the model's final logit softcap.
 * hidden: [R, H] f32 (final-normed)   targets: [R] i32 (-100 = none)
 */
export async function lossSum(gpu: Gpu, head: GpuMatrix, hidden: GPUBuffer, targets: Int32Array, softcap: number | null = null): Promise<{ sum: number; count: number }> {
  const R = targets.length;
  const tgt = uploadBuffer(gpu, targets, 'targets');
  const state = gpu.pool.acquire(R * 16, STORAGE, 'ce_state'); // [R, 4]
  const logits = gpu.pool.acquire(logitsBlockFloats(gpu, head, R) * 4, STORAGE, 'logits'); // [Rc, Vc]
  forEachLogitsBlock(gpu, head, { hidden, targets: tgt, state, R }, (k) => {
    // Each block gets its own submit so one never holds more than Rc x Vc logits of work.
    const rec = new Recorder(gpu);
    matmulForward(rec, { x: k.x, w: k.w, y: logits, M: k.rows });
    capLogits(rec, logits, k.rows * k.w.rows, softcap);
    crossEntropyChunkForward(rec, { logits, targets: k.targets, state: k.state, R: k.rows, Vc: k.w.rows, v0: k.v0, first: k.firstChunk });
    rec.submit();
  });
  const st = await readF32(gpu, state, 0, R * 4);
  for (const b of [tgt, state, logits]) gpu.pool.release(b);
  return lossesFromState(st, targets);
}

/** logits: [V] for row `row` of hidden [R, H], soft-capped when `softcap` (the model's final logit softcap) is set. */
export async function rowLogits(gpu: Gpu, head: GpuMatrix, hidden: GPUBuffer, row: number, softcap: number | null = null): Promise<Float32Array> {
  const H = head.cols;
  const rec = new Recorder(gpu);
  const x = rec.temp(H * 4, STORAGE, 'last_row'); // [1, H]
  rec.copy(hidden, row * H * 4, x, 0, H * 4);
  // Held until read back: a temp goes back to the pool at submit, and the read's own staging buffer
  // could make the pool free it before the copy is encoded.
  const logits = gpu.pool.acquire(head.rows * 4, STORAGE, 'logits'); // [1, V]
  try {
    matmulForward(rec, { x, w: head, y: logits, M: 1 });
    capLogits(rec, logits, head.rows, softcap);
    rec.submit();
    return new Float32Array(await readBuffer(gpu, logits, 0, head.rows * 4));
  } finally {
    gpu.pool.release(logits);
  }
}
