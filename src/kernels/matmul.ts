// Y[:, col0 : col0+N] = (accumulate ? Y : 0) + alpha * X @ W^T + bias
// Dimension key: M = rows of X (tokens), K = in_features, N = out_features (rows of W).
// X: [M, K] f32   W: [N, K] GpuMatrix   Y: [M, ldy] f32   bias: [N] f32
// Residual adds and LoRA's scaled B(Ax) ride on `accumulate` and `alpha` instead of separate passes.

import type { Binding, Recorder } from '../gpu/recorder.ts';
import { params } from '../gpu/recorder.ts';
import matmulWgsl from '../../shaders/matmul.wgsl?raw';
import { type GpuMatrix, weightReader } from './weights.ts';

export interface MatmulArgs<Buf, Mat> {
  x: Buf;
  w: Mat;
  y: Buf;
  M: number;
  bias?: Buf;
  alpha?: number;
  accumulate?: boolean;
  /** Row stride of Y (default N). */
  ldy?: number;
  /** First column of Y written (default 0). */
  col0?: number;
}

const TILE = 32; // 8x8 invocations of 4x4 outputs

export function matmulForward(rec: Recorder, a: MatmulArgs<GPUBuffer | Binding, GpuMatrix>): void {
  const { w, M } = a;
  if (M === 0) return;
  const reader = weightReader(rec.gpu, w.dtype);
  const pipeline = rec.gpu.pipelines.get({ name: `matmul_${w.dtype}`, parts: [reader.part, matmulWgsl], f16: reader.f16 });
  if (a.bias && w.chunks.length > 1) throw new Error('matmul: a bias on a chunked weight is not supported');
  const dummy = a.bias ?? rec.temp(16);
  for (const c of w.chunks) {
    const p = params([
      ['u', M],
      ['u', c.rows],
      ['u', w.cols],
      ['u', a.ldy ?? w.rows],
      ['u', (a.col0 ?? 0) + c.row0],
      ['f', a.alpha ?? 1],
      ['u', a.accumulate ? 1 : 0],
      ['u', a.bias ? 1 : 0],
    ]);
    rec.dispatch(pipeline, p, [c.buffer, a.x, a.y, dummy], [Math.ceil(c.rows / TILE), Math.ceil(M / TILE), 1]);
  }
}

/** CPU twin in float64; `w` is the [N, K] matrix as the GPU sees it (after 16-bit rounding). */
export function matmulForwardCpu(a: MatmulArgs<Float64Array, { rows: number; cols: number; data: Float64Array }>): void {
  const { x, w, y, M } = a;
  const N = w.rows;
  const K = w.cols;
  const ldy = a.ldy ?? N;
  const col0 = a.col0 ?? 0;
  const alpha = a.alpha ?? 1;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k]! * w.data[n * K + k]!;
      const at = m * ldy + col0 + n;
      y[at] = alpha * s + (a.bias ? a.bias[n]! : 0) + (a.accumulate ? y[at]! : 0);
    }
  }
}
