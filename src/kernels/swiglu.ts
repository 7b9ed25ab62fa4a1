// out = silu(gate) * up   (the gated MLP's middle), and its gradient.
// Dimension key: N = tokens * intermediate.   gate, up, out, dout, dgate, dup: [N] f32

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import swigluWgsl from '../../shaders/swiglu.wgsl?raw';
import swigluBackwardWgsl from '../../shaders/swiglu_backward.wgsl?raw';

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

export interface SwigluBackwardArgs<Buf> {
  /** Forward inputs. [N] */
  gate: Buf;
  up: Buf;
  /** dL/dout. [N] */
  dout: Buf;
  /** dL/dgate, dL/dup, overwritten. [N]; neither may alias an input. */
  dgate: Buf;
  dup: Buf;
  N: number;
}

/** dgate = dout * up * silu'(gate), dup = dout * silu(gate); finite for any finite gate. */
export function swigluBackward(rec: Recorder, a: SwigluBackwardArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'swiglu_backward', parts: [swigluBackwardWgsl] });
  rec.dispatch(pipeline, params([['u', a.N]]), [a.gate, a.up, a.dout, a.dgate, a.dup], grid1d(rec.gpu, a.N, 64));
}

export function swigluBackwardCpu(a: SwigluBackwardArgs<Float64Array>): void {
  for (let i = 0; i < a.N; i++) {
    const g = a.gate[i]!;
    const e = Math.exp(-Math.abs(g));
    const sig = g >= 0 ? 1 / (1 + e) : e / (1 + e);
    const oneMinus = g >= 0 ? e / (1 + e) : 1 / (1 + e);
    const d = a.dout[i]!;
    a.dgate[i] = d * a.up[i]! * sig * (1 + g * oneMinus);
    a.dup[i] = d * g * sig;
  }
}
