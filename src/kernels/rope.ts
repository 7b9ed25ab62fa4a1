// Rotary position embedding in place (Hugging Face half-rotation), from a cos/sin table, and its
// gradient (the rotation by the negative angle, also in place).
// Dimension key: R = rows (B sequences of T tokens), nh = heads, D = head dim, P = table positions.
// x: [R, nh, D] f32   table: [P, D] f32 = [cos(pos * f_i) for i < D/2, sin(pos * f_i) for i < D/2]

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import { zeroSeg } from './segments.ts';
import ropeWgsl from '../../shaders/rope.wgsl?raw';

export interface RopeArgs<Buf> {
  x: Buf;
  table: Buf;
  R: number;
  /** Rows per sequence: row r is at position p0 + r % T - seg[r]. */
  T: number;
  p0: number;
  nh: number;
  D: number;
  /** seg: [R] u32, where each row's document starts in its sequence (packed rows); absent = 0. */
  seg?: Buf;
}

/** cos/sin table for positions [0, positions), computed in float64 and stored f32. invFreq: [D/2]. */
export function ropeTable(invFreq: ArrayLike<number>, positions: number): Float32Array {
  const half = invFreq.length;
  const D = half * 2;
  const t = new Float32Array(positions * D);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * invFreq[i]!;
      t[p * D + i] = Math.cos(angle);
      t[p * D + half + i] = Math.sin(angle);
    }
  }
  return t;
}

function rope(rec: Recorder, a: RopeArgs<GPUBuffer>, sinSign: 1 | -1): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'rope', parts: [ropeWgsl], overrides: { SIN_SIGN: sinSign } });
  const p = params([['u', a.R], ['u', a.T], ['u', a.p0], ['u', a.nh], ['u', a.D], ['u', 0], ['u', 0], ['u', 0]]);
  rec.dispatch(pipeline, p, [a.x, a.table, a.seg ?? zeroSeg(rec, a.R)], grid1d(rec.gpu, (a.R * a.nh * a.D) / 2, 64));
}

function ropeCpu(a: RopeArgs<Float64Array>, sinSign: 1 | -1): void {
  const half = a.D / 2;
  for (let r = 0; r < a.R; r++) {
    const pos = a.p0 + (r % a.T) - (a.seg?.[r] ?? 0);
    for (let h = 0; h < a.nh; h++) {
      const base = (r * a.nh + h) * a.D;
      for (let i = 0; i < half; i++) {
        const c = a.table[pos * a.D + i]!;
        const s = sinSign * a.table[pos * a.D + half + i]!;
        const x1 = a.x[base + i]!;
        const x2 = a.x[base + half + i]!;
        a.x[base + i] = x1 * c - x2 * s;
        a.x[base + half + i] = x2 * c + x1 * s;
      }
    }
  }
}

export function ropeForward(rec: Recorder, a: RopeArgs<GPUBuffer>): void {
  rope(rec, a, 1);
}

export function ropeForwardCpu(a: RopeArgs<Float64Array>): void {
  ropeCpu(a, 1);
}

/**
 * In place: `x` holds dL/d(rotated) on entry and dL/d(input) on exit. The rotation is orthogonal,
 * so its gradient is the rotation by the negative angle: ropeBackward(ropeForward(x)) == x.
 */
export function ropeBackward(rec: Recorder, a: RopeArgs<GPUBuffer>): void {
  rope(rec, a, -1);
}

export function ropeBackwardCpu(a: RopeArgs<Float64Array>): void {
  ropeCpu(a, -1);
}
