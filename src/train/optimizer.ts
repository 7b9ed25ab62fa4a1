// AdamW over every trainable tensor, with gradient clipping by global norm, all on the GPU: the
// norm and the clip factor never come back to the CPU inside a step. A step whose gradient norm
// is not finite leaves parameters and moments untouched (the adamw kernel checks), so the last
// good weights survive a NaN.

import type { Gpu } from '../gpu/device.ts';
import { Recorder, STORAGE } from '../gpu/recorder.ts';
import { adamwStep } from '../kernels/adamw.ts';
import { clipScale, sumSquares } from '../kernels/grad-norm.ts';
import type { Trainable } from './trainable.ts';

export interface AdamWSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Max global gradient norm; 0 = no clipping. */
  clip: number;
}

export const DEFAULT_ADAMW: AdamWSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clip: 1 };

export class Optimizer {
  /** norm: [2] = (global gradient norm before clipping, clip factor) of the last step. */
  readonly norm: GPUBuffer;
  private readonly partials: GPUBuffer;
  private steps: number;

  /** `steps`: updates already taken, when a run resumes (the bias corrections count from there). */
  constructor(
    private readonly gpu: Gpu,
    private readonly train: Trainable,
    private readonly s: AdamWSettings,
    steps = 0,
  ) {
    if (!Number.isInteger(steps) || steps < 0) throw new Error(`the optimizer's step count must be a non-negative integer, got ${steps}`);
    this.steps = steps;
    this.norm = gpu.pool.acquire(16, STORAGE, 'grad_norm');
    this.partials = gpu.pool.acquire(Math.max(1, train.tensors.length) * 4, STORAGE, 'grad_norm_partials');
  }

  /** Updates taken so far, including those before a resume. */
  get stepCount(): number {
    return this.steps;
  }

  zeroGrads(): void {
    const rec = new Recorder(this.gpu);
    for (const t of this.train.tensors) rec.clear(t.grad);
    rec.submit();
  }

  /** One update at learning rate `lr`; the caller reads `norm` back whenever it likes. */
  step(lr: number): void {
    this.steps++;
    const rec = new Recorder(this.gpu);
    this.train.tensors.forEach((t, i) => sumSquares(rec, { x: t.grad, n: t.n, out: this.partials, index: i }));
    clipScale(rec, { partials: this.partials, count: this.train.tensors.length, maxNorm: this.s.clip, out: this.norm });
    for (const t of this.train.tensors) {
      adamwStep(rec, {
        param: t.param, grad: t.grad, m: t.m, v: t.v, n: t.n, lr,
        beta1: this.s.beta1, beta2: this.s.beta2, eps: this.s.eps,
        weightDecay: t.decay ? this.s.weightDecay : 0, step: this.steps, gradScale: this.norm,
      });
    }
    rec.submit();
  }

  release(): void {
    this.gpu.pool.release(this.norm);
    this.gpu.pool.release(this.partials);
  }
}
