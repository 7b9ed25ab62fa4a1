// y[r, :] (+)= x[r, :] * rsqrt(mean(x[r, :]^2) + eps) * w, and its gradients with respect to x and w.
// Adding onto y is Gemma 3's residual add of a normed branch (post_attention / post_feedforward norms).
// Dimension key: R = rows, C = row width.   x, y, dy, dx: [R, C] f32   w, dw: [C] f32

import type { Recorder } from '../gpu/recorder.ts';
import { params } from '../gpu/recorder.ts';
import workgroupSumWgsl from '../../shaders/workgroup_sum.wgsl?raw';
import rmsnormWgsl from '../../shaders/rmsnorm.wgsl?raw';
import rmsnormBackwardWgsl from '../../shaders/rmsnorm_backward.wgsl?raw';
import rmsnormRstdWgsl from '../../shaders/rmsnorm_rstd.wgsl?raw';
import rmsnormWeightGradWgsl from '../../shaders/rmsnorm_weight_grad.wgsl?raw';

export interface RmsNormArgs<Buf> {
  x: Buf;
  w: Buf;
  /** Overwritten, or added to when `accumulate` (a residual stream); must not alias x. */
  y: Buf;
  R: number;
  C: number;
  eps: number;
  accumulate?: boolean;
}

/** One workgroup per row, folded into y past the per-dimension limit. */
export function rowGrid(rec: Recorder, rows: number): [number, number, number] {
  const max = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
  if (rows <= max) return [rows, 1, 1];
  const y = Math.ceil(rows / max);
  return [Math.ceil(rows / y), y, 1];
}

export function rmsnormForward(rec: Recorder, a: RmsNormArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'rmsnorm', parts: [workgroupSumWgsl, rmsnormWgsl] });
  const p = params([['u', a.R], ['u', a.C], ['f', a.eps], ['u', a.accumulate ? 1 : 0]]);
  rec.dispatch(pipeline, p, [a.x, a.w, a.y], rowGrid(rec, a.R));
}

export function rmsnormForwardCpu(a: RmsNormArgs<Float64Array>): void {
  for (let r = 0; r < a.R; r++) {
    let s = 0;
    for (let c = 0; c < a.C; c++) s += a.x[r * a.C + c]! ** 2;
    const inv = 1 / Math.sqrt(s / a.C + a.eps);
    for (let c = 0; c < a.C; c++) {
      const at = r * a.C + c;
      a.y[at] = a.x[at]! * inv * a.w[c]! + (a.accumulate ? a.y[at]! : 0);
    }
  }
}

export interface RmsNormBackwardArgs<Buf> {
  /** Forward input. [R, C] */
  x: Buf;
  /** Forward weight. [C] */
  w: Buf;
  /** dL/dy. [R, C] */
  dy: Buf;
  /** dL/dx, overwritten, or added to when `accumulate` (e.g. into the residual stream's gradient). [R, C] */
  dx: Buf;
  R: number;
  C: number;
  eps: number;
  accumulate?: boolean;
}

export interface RmsNormWeightGradArgs<Buf> {
  /** Forward input. [R, C] */
  x: Buf;
  /** dL/dy. [R, C] */
  dy: Buf;
  /** dL/dw, overwritten, or added to when `accumulate`. [C] */
  dw: Buf;
  R: number;
  C: number;
  eps: number;
  accumulate?: boolean;
}

/**
 * dx (+)= inv * w * dy - x * inv^3 / C * sum_c(dy * w * x), inv = rsqrt(mean(x^2) + eps).
 * One workgroup per row, like the forward. `dx` must not alias `x` or `dy`.
 */
export function rmsnormBackward(rec: Recorder, a: RmsNormBackwardArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'rmsnorm_backward', parts: [workgroupSumWgsl, rmsnormBackwardWgsl] });
  const p = params([['u', a.R], ['u', a.C], ['f', a.eps], ['u', a.accumulate ? 1 : 0]]);
  rec.dispatch(pipeline, p, [a.x, a.w, a.dy, a.dx], rowGrid(rec, a.R));
}

export function rmsnormBackwardCpu(a: RmsNormBackwardArgs<Float64Array>): void {
  for (let r = 0; r < a.R; r++) {
    let ss = 0;
    let dot = 0;
    for (let c = 0; c < a.C; c++) {
      const x = a.x[r * a.C + c]!;
      ss += x * x;
      dot += a.dy[r * a.C + c]! * a.w[c]! * x;
    }
    const inv = 1 / Math.sqrt(ss / a.C + a.eps);
    const k = (inv * inv * inv * dot) / a.C;
    for (let c = 0; c < a.C; c++) {
      const at = r * a.C + c;
      const g = inv * a.w[c]! * a.dy[at]! - a.x[at]! * k;
      a.dx[at] = g + (a.accumulate ? a.dx[at]! : 0);
    }
  }
}

/** Columns per workgroup of rmsnorm_weight_grad.wgsl. */
const WEIGHT_GRAD_COLS = 16;

/**
 * dw[c] (+)= sum_r dy[r, c] * x[r, c] * inv_r, for full fine-tuning. Two dispatches: the per-row
 * inv into a temporary [R] buffer, then a column sum in a fixed order (deterministic).
 */
export function rmsnormWeightGrad(rec: Recorder, a: RmsNormWeightGradArgs<GPUBuffer>): void {
  const rstd = rec.gpu.pipelines.get({ name: 'rmsnorm_rstd', parts: [workgroupSumWgsl, rmsnormRstdWgsl] });
  const inv = rec.temp(a.R * 4, undefined, 'rmsnorm inv'); // [R]
  rec.dispatch(rstd, params([['u', a.R], ['u', a.C], ['f', a.eps], ['u', 0]]), [a.x, inv], rowGrid(rec, a.R));
  const grad = rec.gpu.pipelines.get({ name: 'rmsnorm_weight_grad', parts: [rmsnormWeightGradWgsl] });
  const p = params([['u', a.R], ['u', a.C], ['u', a.accumulate ? 1 : 0], ['u', 0]]);
  rec.dispatch(grad, p, [a.x, a.dy, inv, a.dw], rowGrid(rec, Math.ceil(a.C / WEIGHT_GRAD_COLS)));
}

export function rmsnormWeightGradCpu(a: RmsNormWeightGradArgs<Float64Array>): void {
  const inv = new Float64Array(a.R);
  for (let r = 0; r < a.R; r++) {
    let ss = 0;
    for (let c = 0; c < a.C; c++) ss += a.x[r * a.C + c]! ** 2;
    inv[r] = 1 / Math.sqrt(ss / a.C + a.eps);
  }
  for (let c = 0; c < a.C; c++) {
    let g = 0;
    for (let r = 0; r < a.R; r++) g += a.dy[r * a.C + c]! * a.x[r * a.C + c]! * inv[r]!;
    a.dw[c] = g + (a.accumulate ? a.dw[c]! : 0);
  }
}
