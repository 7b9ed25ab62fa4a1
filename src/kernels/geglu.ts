// out = gelu_tanh(gate) * up   (GeGLU: Gemma's gated MLP middle), and its gradient; the sibling of
// swiglu.ts with the same arguments. gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
// Dimension key: N = tokens * intermediate.   gate, up, out, dout, dgate, dup: [N] f32

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import type { SwigluArgs, SwigluBackwardArgs } from './swiglu.ts';
import gegluWgsl from '../../shaders/geglu.wgsl?raw';
import gegluBackwardWgsl from '../../shaders/geglu_backward.wgsl?raw';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

export function gegluForward(rec: Recorder, a: SwigluArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'geglu', parts: [gegluWgsl] });
  rec.dispatch(pipeline, params([['u', a.N]]), [a.gate, a.up, a.out], grid1d(rec.gpu, a.N, 64));
}

export function gegluForwardCpu(a: SwigluArgs<Float64Array>): void {
  for (let i = 0; i < a.N; i++) {
    const x = a.gate[i]!;
    a.out[i] = 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_K * x ** 3))) * a.up[i]!;
  }
}

/** dgate = dout * up * gelu_tanh'(gate), dup = dout * gelu_tanh(gate); finite for any finite gate. */
export function gegluBackward(rec: Recorder, a: SwigluBackwardArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'geglu_backward', parts: [gegluBackwardWgsl] });
  rec.dispatch(pipeline, params([['u', a.N]]), [a.gate, a.up, a.dout, a.dgate, a.dup], grid1d(rec.gpu, a.N, 64));
}

export function gegluBackwardCpu(a: SwigluBackwardArgs<Float64Array>): void {
  for (let i = 0; i < a.N; i++) {
    const x = a.gate[i]!;
    const t = Math.tanh(GELU_C * (x + GELU_K * x ** 3));
    const sech2 = 1 - t * t;
    // 0.5 (1 + t) + 0.5 x (1 - t^2) u'(x); the second term is 0 where tanh saturates (and x^2 may be huge).
    const slope = 0.5 * (1 + t) + (sech2 > 0 ? 0.5 * x * sech2 * GELU_C * (1 + 3 * GELU_K * x * x) : 0);
    const d = a.dout[i]!;
    a.dgate[i] = d * a.up[i]! * slope;
    a.dup[i] = d * 0.5 * x * (1 + t);
  }
}
