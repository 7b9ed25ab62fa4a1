// out[t, :] = scale * W[ids[t], :]  (token embedding lookup; scale = 1 but for Gemma's sqrt(H)), and
// its backward: dE[id, :] += scale * sum of dx[t, :] over the tokens t with that id (grouped on the
// CPU by embeddingGradPlan; no atomics).
// Dimension key: T = tokens, V = vocab, H = hidden, U = distinct ids among the tokens.
// ids: [T] u32   W: [V, H] GpuMatrix (any dtype; a block format is dequantized by its reader)
// out, dx: [T, H] f32   dE: [V, H] f32

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import embeddingWgsl from '../../shaders/embedding.wgsl?raw';
import embeddingBackwardWgsl from '../../shaders/embedding_backward.wgsl?raw';
import { type GpuMatrix, weightReader } from './weights.ts';

export interface EmbeddingArgs<Buf, Ids, Mat> {
  ids: Ids;
  w: Mat;
  out: Buf;
  T: number;
  /** Multiplies every looked-up row (Gemma's embed_scale); default 1. */
  scale?: number;
}

export function embeddingForward(rec: Recorder, a: EmbeddingArgs<GPUBuffer, GPUBuffer, GpuMatrix>): void {
  const reader = weightReader(rec.gpu, a.w.dtype);
  const pipeline = rec.gpu.pipelines.get({ name: `embedding_${a.w.dtype}`, parts: [reader.part, embeddingWgsl], f16: reader.f16 });
  const H = a.w.cols;
  // Each chunk of the table writes the rows of the tokens it holds.
  for (const c of a.w.chunks) {
    const p = params([['u', a.T], ['u', H], ['u', c.row0], ['u', c.rows], ['f', a.scale ?? 1]]);
    rec.dispatch(pipeline, p, [c.buffer, a.ids, a.out], grid1d(rec.gpu, (a.T * H) / 4, 64));
  }
}

export function embeddingForwardCpu(a: EmbeddingArgs<Float64Array, ArrayLike<number>, { rows: number; cols: number; data: Float64Array }>): void {
  const H = a.w.cols;
  const scale = a.scale ?? 1;
  for (let t = 0; t < a.T; t++) {
    const id = a.ids[t]!;
    for (let c = 0; c < H; c++) a.out[t * H + c] = scale * a.w.data[id * H + c]!;
  }
}

export interface EmbeddingGradPlan {
  /** [T] token positions sorted by id; positions with the same id keep their order. */
  order: Uint32Array;
  /** [U + 1] the positions of unique id u are order[starts[u] .. starts[u + 1]]. */
  starts: Uint32Array;
  /** [U] the distinct ids, ascending. */
  uniqueIds: Uint32Array;
}

/** Groups token positions by id (CPU, deterministic) for embeddingBackward. */
export function embeddingGradPlan(ids: ArrayLike<number>): EmbeddingGradPlan {
  const T = ids.length;
  const order = Uint32Array.from({ length: T }, (_, i) => i).sort((a, b) => ids[a]! - ids[b]! || a - b);
  const starts: number[] = [];
  const uniqueIds: number[] = [];
  for (let i = 0; i < T; i++) {
    const id = ids[order[i]!]!;
    if (i === 0 || id !== uniqueIds[uniqueIds.length - 1]) {
      starts.push(i);
      uniqueIds.push(id);
    }
  }
  starts.push(T);
  return { order, starts: Uint32Array.from(starts), uniqueIds: Uint32Array.from(uniqueIds) };
}

export interface EmbeddingBackwardArgs<Buf, Idx> {
  /** [T, H] gradient of the embedding output. */
  dx: Buf;
  /** [T] u32, from embeddingGradPlan. */
  order: Idx;
  /** [U + 1] u32, from embeddingGradPlan. */
  starts: Idx;
  /** [U] u32, from embeddingGradPlan. */
  uniqueIds: Idx;
  U: number;
  H: number;
  /** [V, H] f32; rows of ids that do not occur are left untouched. */
  dE: Buf;
  accumulate: boolean;
  /** The forward's scale: the sums are multiplied by it; default 1. */
  scale?: number;
  /**
   * Rows of dE bound per dispatch (default: all of them when the table fits in one binding, else as
   * many as fit, rounded so that every window starts at an aligned offset). Tests set it small.
   */
  rowsPerBinding?: number;
}

/** For each unique id u: dE[uniqueIds[u], :] (+)= scale * sum of dx[order[i], :] over i in starts[u] .. starts[u + 1]. */
export function embeddingBackward(rec: Recorder, a: EmbeddingBackwardArgs<GPUBuffer, GPUBuffer>): void {
  const { U, H } = a;
  if (H % 4 !== 0) throw new Error(`embeddingBackward: H = ${H} is not a multiple of 4`);
  if (U === 0 || H === 0) return;
  const rowBytes = H * 4;
  const V = Math.floor(rec.gpu.pool.sizeOf(a.dE) / rowBytes);
  // Window starts must sit on the storage offset alignment (256 bytes everywhere in practice).
  const align = 256 / gcd(rowBytes, 256);
  let perWindow = a.rowsPerBinding ?? (V * rowBytes <= rec.gpu.limits.maxStorageBufferBindingSize ? V : Math.floor(rec.gpu.limits.maxStorageBufferBindingSize / rowBytes));
  if (perWindow < V) perWindow = Math.floor(perWindow / align) * align;
  if (perWindow < 1) throw new Error(`embeddingBackward: a window of ${align} rows of ${rowBytes} bytes does not fit one binding`);
  const pipeline = rec.gpu.pipelines.get({ name: 'embedding_backward', parts: [embeddingBackwardWgsl] });
  for (let row0 = 0; row0 < V; row0 += perWindow) {
    const rows = Math.min(perWindow, V - row0);
    const p = params([['u', U], ['u', H], ['u', row0], ['u', rows], ['u', a.accumulate ? 1 : 0], ['f', a.scale ?? 1]]);
    const dE = { buffer: a.dE, offset: row0 * rowBytes, size: rows * rowBytes };
    rec.dispatch(pipeline, p, [a.dx, a.order, a.starts, a.uniqueIds, dE], grid1d(rec.gpu, (U * H) / 4, 64));
  }
}

export function embeddingBackwardCpu(a: EmbeddingBackwardArgs<Float64Array, ArrayLike<number>>): void {
  const H = a.H;
  for (let u = 0; u < a.U; u++) {
    const id = a.uniqueIds[u]!;
    for (let c = 0; c < H; c++) {
      let s = 0;
      for (let i = a.starts[u]!; i < a.starts[u + 1]!; i++) s += a.dx[a.order[i]! * H + c]!;
      const at = id * H + c;
      a.dE[at] = (a.accumulate ? a.dE[at]! : 0) + (a.scale ?? 1) * s;
    }
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
