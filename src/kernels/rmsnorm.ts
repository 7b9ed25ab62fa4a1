// y[r, :] = x[r, :] * rsqrt(mean(x[r, :]^2) + eps) * w
// Dimension key: R = rows, C = row width.   x, y: [R, C] f32   w: [C] f32

import type { Recorder } from '../gpu/recorder.ts';
import { params } from '../gpu/recorder.ts';
import rmsnormWgsl from '../../shaders/rmsnorm.wgsl?raw';

export interface RmsNormArgs<Buf> {
  x: Buf;
  w: Buf;
  y: Buf;
  R: number;
  C: number;
  eps: number;
}

/** One workgroup per row, folded into y past the per-dimension limit. */
export function rowGrid(rec: Recorder, rows: number): [number, number, number] {
  const max = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
  if (rows <= max) return [rows, 1, 1];
  const y = Math.ceil(rows / max);
  return [Math.ceil(rows / y), y, 1];
}

export function rmsnormForward(rec: Recorder, a: RmsNormArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'rmsnorm', parts: [rmsnormWgsl] });
  const p = params([['u', a.R], ['u', a.C], ['f', a.eps], ['u', 0]]);
  rec.dispatch(pipeline, p, [a.x, a.w, a.y], rowGrid(rec, a.R));
}

export function rmsnormForwardCpu(a: RmsNormArgs<Float64Array>): void {
  for (let r = 0; r < a.R; r++) {
    let s = 0;
    for (let c = 0; c < a.C; c++) s += a.x[r * a.C + c]! ** 2;
    const inv = 1 / Math.sqrt(s / a.C + a.eps);
    for (let c = 0; c < a.C; c++) a.y[r * a.C + c] = a.x[r * a.C + c]! * inv * a.w[c]!;
  }
}
