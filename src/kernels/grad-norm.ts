// Global gradient-norm clipping without a readback: sumSquares writes each tensor's sum of squares
// into one slot of a partials buffer, clipScale reduces them to [norm, scale] (torch's
// clip_grad_norm_), and adamwStep multiplies each gradient by scale on the GPU.
// Both reduce in one workgroup in a fixed order, so the same gradients give the same bits every run.
// Dimension key: n = elements of one tensor, count = tensors.
// x: [n] f32   partials: [count] f32   out: [2] f32 (norm, scale)

import type { Binding, Recorder } from '../gpu/recorder.ts';
import { params } from '../gpu/recorder.ts';
import workgroupSumWgsl from '../../shaders/workgroup_sum.wgsl?raw';
import sumSquaresWgsl from '../../shaders/sum_squares.wgsl?raw';
import clipScaleWgsl from '../../shaders/clip_scale.wgsl?raw';

export interface SumSquaresArgs<Buf, Out> {
  x: Buf;
  n: number;
  /** [count] f32; only out[index] is written. */
  out: Out;
  index: number;
}

/** out[index] = sum of x[i]^2 over i < n (one workgroup, fixed-order reduction). */
export function sumSquares(rec: Recorder, a: SumSquaresArgs<GPUBuffer | Binding, GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'sum_squares', parts: [workgroupSumWgsl, sumSquaresWgsl] });
  rec.dispatch(pipeline, params([['u', a.n], ['u', a.index]]), [a.x, a.out], [1, 1, 1]);
}

export function sumSquaresCpu(a: SumSquaresArgs<Float64Array, Float64Array>): void {
  let s = 0;
  for (let i = 0; i < a.n; i++) s += a.x[i]! ** 2;
  a.out[a.index] = s;
}

export interface ClipScaleArgs<Buf> {
  /** [count] sums of squares, one per gradient tensor. */
  partials: Buf;
  count: number;
  /** Clip the global norm to this; 0 or less: no clipping (scale 1). */
  maxNorm: number;
  /** [2] f32: [norm, scale]. */
  out: Buf;
}

/** out = [norm, scale]: norm = sqrt(sum partials), scale = maxNorm > 0 ? min(1, maxNorm / (norm + 1e-6)) : 1. */
export function clipScale(rec: Recorder, a: ClipScaleArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'clip_scale', parts: [clipScaleWgsl] });
  rec.dispatch(pipeline, params([['u', a.count], ['f', a.maxNorm]]), [a.partials, a.out], [1, 1, 1]);
}

export function clipScaleCpu(a: ClipScaleArgs<Float64Array>): void {
  let s = 0;
  for (let i = 0; i < a.count; i++) s += a.partials[i]!;
  const norm = Math.sqrt(s);
  a.out[0] = norm;
  a.out[1] = a.maxNorm > 0 ? Math.min(1, a.maxNorm / (norm + 1e-6)) : 1;
}
