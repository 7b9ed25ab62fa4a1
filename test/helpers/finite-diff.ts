// Central finite differences of a float64 loss, the oracle the reference backward is checked by.

import { expect } from 'vitest';

export const FD_STEP = 1e-5;
/**
 * Relative error is |analytic - fd| / max(|fd|, FLOOR). Central differences at h = 1e-5 on a loss
 * near log(V) ~ 6 carry ~1e-10 of rounding noise; ~97% of sampled entries have |fd| >= 1e-4.
 */
export const FLOOR = 1e-4;

/** `count` distinct indices below n (all of them when n <= count). */
export function sampleIndices(n: number, count: number, rand: () => number): number[] {
  if (n <= count) return [...Array(n).keys()];
  const out = new Set<number>();
  while (out.size < count) out.add(Math.floor(rand() * n));
  return [...out];
}

/** Central difference of the loss w.r.t. t[i], perturbing t in place (and restoring it). */
export function fd(t: Float64Array, i: number, loss: () => number): number {
  const x = t[i]!;
  t[i] = x + FD_STEP;
  const up = loss();
  t[i] = x - FD_STEP;
  const down = loss();
  t[i] = x;
  return (up - down) / (2 * FD_STEP);
}

/** The worst relative error seen so far, where, and over how many elements. */
export interface Check {
  worst: number;
  where: string;
  count: number;
}

/** Compares grad[i] with the finite difference at each index, keeping the worst in `check`. */
export function compare(check: Check, name: string, tensor: Float64Array, grad: Float64Array, indices: number[], loss: () => number): void {
  expect(grad.length, name).toBe(tensor.length);
  for (const i of indices) {
    const want = fd(tensor, i, loss);
    const got = grad[i]!;
    const rel = Math.abs(got - want) / Math.max(Math.abs(want), FLOOR);
    check.count++;
    if (rel > check.worst) {
      check.worst = rel;
      check.where = `${name}[${i}]: analytic ${got}, fd ${want}`;
    }
  }
}
