// out = silu(gate) * up   (the gated MLP's middle)
// Dimension key: N = tokens * intermediate.   gate, up, out: [N] f32

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import swigluWgsl from '../../shaders/swiglu.wgsl?raw';

export interface SwigluArgs<Buf> {
  gate: Buf;
  up: Buf;
  out: Buf;
  N: number;
}

export function swigluForward(rec: Recorder, a: SwigluArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'swiglu', parts: [swigluWgsl] });
  rec.dispatch(pipeline, params([['u', a.N]]), [a.gate, a.up, a.out], grid1d(rec.gpu, a.N, 64));
}

export function swigluForwardCpu(a: SwigluArgs<Float64Array>): void {
  for (let i = 0; i < a.N; i++) {
    const g = a.gate[i]!;
    a.out[i] = (g / (1 + Math.exp(-g))) * a.up[i]!;
  }
}
