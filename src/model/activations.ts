// Scalar float64 functions of the CPU reference (reference.ts, reference-grad.ts): the MLP's gate
// activations and their derivatives, and tanh soft-capping.

import type { MlpActivation } from './config.ts';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** d silu(x) / dx = sigma(x) (1 + x (1 - sigma(x))). */
export function siluGrad(x: number): number {
  const sg = 1 / (1 + Math.exp(-x));
  return sg * (1 + x * (1 - sg));
}

/** gelu with the tanh approximation (torch's gelu(approximate="tanh")): 0.5 x (1 + tanh(c (x + k x^3))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_K * x ** 3)));
}

/** d geluTanh(x) / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 k x^2), t = tanh(c (x + k x^3)). */
export function geluTanhGrad(x: number): number {
  const t = Math.tanh(GELU_C * (x + GELU_K * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_K * x * x);
}

export function activation(a: MlpActivation): (x: number) => number {
  return a === 'silu' ? silu : geluTanh;
}

export function activationGrad(a: MlpActivation): (x: number) => number {
  return a === 'silu' ? siluGrad : geluTanhGrad;
}

/** cap * tanh(x / cap); null = x unchanged. */
export function softcap(x: number, cap: number | null): number {
  return cap === null ? x : cap * Math.tanh(x / cap);
}
