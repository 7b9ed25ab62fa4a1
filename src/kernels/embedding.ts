// out[t, :] = W[ids[t], :]  (token embedding lookup)
// Dimension key: T = tokens, V = vocab, H = hidden.   ids: [T] u32   W: [V, H] GpuMatrix   out: [T, H] f32

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import embeddingWgsl from '../../shaders/embedding.wgsl?raw';
import { type GpuMatrix, weightReader } from './weights.ts';

export interface EmbeddingArgs<Buf, Ids, Mat> {
  ids: Ids;
  w: Mat;
  out: Buf;
  T: number;
}

export function embeddingForward(rec: Recorder, a: EmbeddingArgs<GPUBuffer, GPUBuffer, GpuMatrix>): void {
  const reader = weightReader(rec.gpu, a.w.dtype);
  const pipeline = rec.gpu.pipelines.get({ name: `embedding_${a.w.dtype}`, parts: [reader.part, embeddingWgsl], f16: reader.f16 });
  const H = a.w.cols;
  // Each chunk of the table writes the rows of the tokens it holds.
  for (const c of a.w.chunks) {
    const p = params([['u', a.T], ['u', H], ['u', c.row0], ['u', c.rows]]);
    rec.dispatch(pipeline, p, [c.buffer, a.ids, a.out], grid1d(rec.gpu, (a.T * H) / 4, 64));
  }
}

export function embeddingForwardCpu(a: EmbeddingArgs<Float64Array, ArrayLike<number>, { rows: number; cols: number; data: Float64Array }>): void {
  const H = a.w.cols;
  for (let t = 0; t < a.T; t++) {
    const id = a.ids[t]!;
    for (let c = 0; c < H; c++) a.out[t * H + c] = a.w.data[id * H + c]!;
  }
}
