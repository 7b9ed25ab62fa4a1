// Compares GPU output with a float64 reference: |a - e| <= abs + rel * |e|, reporting the first
// mismatches so a failure says where, not only that.

import { expect } from 'vitest';
import { seededRandom } from '../../src/util/random.ts';

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { abs?: number; rel?: number }, what = 'values'): void {
  const abs = tol.abs ?? 0;
  const rel = tol.rel ?? 0;
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const bad: string[] = [];
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e);
    const limit = abs + rel * Math.abs(e);
    if (!(err <= limit)) {
      if (bad.length < 5) bad.push(`[${i}] got ${a}, want ${e} (err ${err.toExponential(2)} > ${limit.toExponential(2)})`);
      worst = Math.max(worst, err);
    }
  }
  expect(bad, `${what}: ${bad.length ? 'first mismatches' : ''}`).toEqual([]);
}

/** Deterministic uniform values in [-scale, scale). */
export function randomArray(n: number, seed: number, scale = 1): Float64Array {
  const random = seededRandom(seed);
  return Float64Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

/** Rounds to f32, as uploading does. */
export function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values as ArrayLike<number>));
}
