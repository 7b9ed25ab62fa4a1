// db = (accumulate ? db : 0) + column sums of dy   (the gradient of a linear layer's bias)
// Dimension key: M = rows (tokens), N = features.   dy: [M, N] f32   db: [N] f32

import type { Recorder } from '../gpu/recorder.ts';
import { params } from '../gpu/recorder.ts';
import biasGradWgsl from '../../shaders/bias_grad.wgsl?raw';

export interface BiasGradArgs<Buf> {
  dy: Buf;
  db: Buf;
  M: number;
  N: number;
  accumulate?: boolean;
}

export function biasGrad(rec: Recorder, a: BiasGradArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'bias_grad', parts: [biasGradWgsl] });
  rec.dispatch(pipeline, params([['u', a.M], ['u', a.N], ['u', a.accumulate ? 1 : 0]]), [a.dy, a.db], [Math.ceil(a.N / 64), 1, 1]);
}

export function biasGradCpu(a: BiasGradArgs<Float64Array>): void {
  for (let n = 0; n < a.N; n++) {
    let s = 0;
    for (let m = 0; m < a.M; m++) s += a.dy[m * a.N + n]!;
    a.db[n] = s + (a.accumulate ? a.db[n]! : 0);
  }
}
