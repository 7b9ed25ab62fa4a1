// Inverted dropout from a counter-based hash: the mask is a pure function of (seed, index), so the
// forward pass, its recomputation under checkpointing, and the backward pass all agree.
// Dimension key: N = elements.   x, out: [N] f32

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import dropoutWgsl from '../../shaders/dropout.wgsl?raw';

export interface DropoutArgs<Buf> {
  x: Buf;
  out: Buf;
  N: number;
  /** Probability of dropping an element, in [0, 1). */
  p: number;
  seed: number;
  accumulate?: boolean;
}

function pcg(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

function threshold(p: number): number {
  return Math.min(0xffffffff, Math.floor(p * 2 ** 32));
}

export function dropoutForward(rec: Recorder, a: DropoutArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'dropout', parts: [dropoutWgsl] });
  const p = params([
    ['u', a.N], ['u', a.seed >>> 0], ['u', threshold(a.p)], ['u', a.accumulate ? 1 : 0],
    ['f', 1 / (1 - a.p)], ['u', 0], ['u', 0], ['u', 0],
  ]);
  rec.dispatch(pipeline, p, [a.x, a.out], grid1d(rec.gpu, a.N, 64));
}

export function dropoutForwardCpu(a: DropoutArgs<Float64Array>): void {
  const t = threshold(a.p);
  const scale = Math.fround(1 / (1 - a.p));
  for (let i = 0; i < a.N; i++) {
    const keep = (pcg(pcg(i) ^ (a.seed >>> 0)) >>> 0) >= t;
    a.out[i] = (keep ? a.x[i]! * scale : 0) + (a.accumulate ? a.out[i]! : 0);
  }
}
