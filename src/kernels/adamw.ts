// One AdamW step over one parameter tensor, exactly as torch.optim.AdamW:
//   g = grad * scale / gradDivisor;  param *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   param -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
// `scale` comes from clipScale (grad-norm.ts) in a GPU buffer, so clipping needs no readback.
// Dimension key: n = elements of the tensor.   param, grad, m, v: [n] f32   gradScale: [2] f32 (norm, scale)

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import adamwWgsl from '../../shaders/adamw.wgsl?raw';

export interface AdamwArgs<Buf> {
  param: Buf;
  grad: Buf;
  /** First moment (exp_avg), zero before step 1. */
  m: Buf;
  /** Second moment (exp_avg_sq), zero before step 1. */
  v: Buf;
  n: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for the bias corrections. */
  step: number;
  /** [2] f32 from clipScale: [norm, scale]; the gradient is multiplied by scale. */
  gradScale: Buf;
  /** The gradient is divided by this, e.g. the number of accumulation steps (default 1). */
  gradDivisor?: number;
}

/** The scalars of one step, in float64, as torch computes them. */
function stepScalars(a: AdamwArgs<unknown>): { decay: number; stepSize: number; bc2Sqrt: number; invDivisor: number } {
  if (!(a.step >= 1) || !Number.isInteger(a.step)) throw new Error(`adamwStep: step must be a 1-based integer, got ${a.step}`);
  const divisor = a.gradDivisor ?? 1;
  if (!(divisor > 0)) throw new Error(`adamwStep: gradDivisor must be positive, got ${divisor}`);
  return {
    decay: 1 - a.lr * a.weightDecay,
    stepSize: a.lr / (1 - a.beta1 ** a.step),
    bc2Sqrt: Math.sqrt(1 - a.beta2 ** a.step),
    invDivisor: 1 / divisor,
  };
}

export function adamwStep(rec: Recorder, a: AdamwArgs<GPUBuffer>): void {
  const s = stepScalars(a);
  if (a.n === 0) return;
  const pipeline = rec.gpu.pipelines.get({ name: 'adamw', parts: [adamwWgsl] });
  const p = params([
    ['u', a.n],
    ['f', a.lr],
    ['f', a.beta1],
    ['f', a.beta2],
    ['f', a.eps],
    ['f', s.decay],
    ['f', s.stepSize],
    ['f', s.bc2Sqrt],
    ['f', s.invDivisor],
    ['f', 1 - a.beta1],
    ['f', 1 - a.beta2],
  ]);
  rec.dispatch(pipeline, p, [a.param, a.grad, a.m, a.v, a.gradScale], grid1d(rec.gpu, a.n, 64));
}

export function adamwStepCpu(a: AdamwArgs<Float64Array>): void {
  const s = stepScalars(a);
  const scale = a.gradScale[1]!;
  if (!Number.isFinite(a.gradScale[0]!)) return; // a diverged step changes nothing
  for (let i = 0; i < a.n; i++) {
    const g = (a.grad[i]! * scale) / (a.gradDivisor ?? 1);
    const m = a.beta1 * a.m[i]! + (1 - a.beta1) * g;
    const v = a.beta2 * a.v[i]! + (1 - a.beta2) * g * g;
    a.m[i] = m;
    a.v[i] = v;
    a.param[i] = a.param[i]! * s.decay - (s.stepSize * m) / (Math.sqrt(v) / s.bc2Sqrt + a.eps);
  }
}
