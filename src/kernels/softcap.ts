// Soft-capping in place: x = cap * tanh(x / cap), Gemma's final_logit_softcapping on a block of
// logits. Its gradient needs only the capped value y (dy/dx = 1 - (y / cap)^2), so the loss kernel
// applies it in place (cross-entropy.ts, `softcap`).
// Dimension key: N = values.   x: [N] f32 (a [rows, Vc] block of logits)

import type { Binding, Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import tanhWgsl from '../../shaders/tanh.wgsl?raw';
import softcapWgsl from '../../shaders/softcap.wgsl?raw';

export interface SoftcapArgs<Buf> {
  x: Buf;
  N: number;
  /** A positive cap. */
  cap: number;
}

export function softcapForward(rec: Recorder, a: SoftcapArgs<GPUBuffer | Binding>): void {
  if (!(a.cap > 0)) throw new Error(`softcap: the cap must be positive, got ${a.cap}`);
  if (a.N === 0) return;
  const pipeline = rec.gpu.pipelines.get({ name: 'softcap', parts: [tanhWgsl, softcapWgsl] });
  rec.dispatch(pipeline, params([['u', a.N], ['f', a.cap]]), [a.x], grid1d(rec.gpu, a.N, 64));
}

export function softcapForwardCpu(a: SoftcapArgs<Float64Array>): void {
  for (let i = 0; i < a.N; i++) a.x[i] = a.cap * Math.tanh(a.x[i]! / a.cap);
}
