// Inputs for the ggml twin tests: a seeded PRNG, weight generators that reach the quantizers'
// edge paths (all-zero groups, ties, f16 underflow and overflow of scales, outliers), and a byte
// comparison that names the first difference.

import type { GgmlType } from '../../src/quant/ggml-types.ts';

/** mulberry32: small, seedable, so a failure can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(r: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

type Gen = (n: number, r: () => number) => Float32Array;

function fill(n: number, g: (i: number) => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = g(i);
  return a;
}

/** Named weight patterns; n is rows * cols, always a multiple of 16. */
export const GENERATORS: Record<string, Gen> = {
  gaussian: (n, r) => { const g = gaussian(r); return fill(n, () => g()); },
  'gaussian, scale per row': (n, r) => {
    const g = gaussian(r);
    const scales = [0.02, 1, 1e-3, 30, 0.5];
    return fill(n, (i) => g() * scales[Math.floor(i / 96) % scales.length]!);
  },
  uniform: (n, r) => fill(n, () => 2 * r() - 1),
  zeros: (n) => new Float32Array(n),
  'negative zeros': (n) => fill(n, () => -0),
  constant: (n) => fill(n, (i) => [0.7, -3.25, 1e-3, 100][Math.floor(i / 32) % 4]!),
  'one outlier per block': (n, r) => {
    const g = gaussian(r);
    return fill(n, (i) => (i % 32 === 7 ? (r() < 0.5 ? -1 : 1) * (5 + 45 * r()) : 0.02 * g()));
  },
  'outlier in one sub-block': (n, r) => {
    const g = gaussian(r);
    return fill(n, (i) => (i % 256 === 200 ? 80 : 0.01 * g()));
  },
  'near f16 subnormals': (n, r) => {
    const g = gaussian(r);
    return fill(n, () => g() * 6e-8);
  },
  'tiny, mixed': (n, r) => {
    const g = gaussian(r);
    const mags = [6e-8, 3e-5, 1e-6, 6.1e-5, 2e-7];
    return fill(n, (i) => g() * mags[Math.floor(i / 16) % mags.length]!);
  },
  'f32 subnormals': (n, r) => {
    const g = gaussian(r);
    return fill(n, () => g() * 1e-39);
  },
  'negative only': (n, r) => { const g = gaussian(r); return fill(n, () => -Math.abs(g()) - 0.01); },
  'positive only': (n, r) => { const g = gaussian(r); return fill(n, () => Math.abs(g()) + 0.5); },
  'large (1e4)': (n, r) => { const g = gaussian(r); return fill(n, () => g() * 1e4); },
  'past f16 range': (n, r) => fill(n, (i) => (i % 3 === 0 ? -7e4 - 1e4 * r() : 5e4 * r())),
  'small integers (ties)': (n, r) => fill(n, () => Math.round((r() - 0.5) * 16)),
  halves: (n, r) => fill(n, () => Math.round((r() - 0.5) * 40) / 2),
  sparse: (n, r) => { const g = gaussian(r); return fill(n, () => (r() < 0.1 ? g() : 0)); },
  'magnitude per 16': (n, r) => {
    const g = gaussian(r);
    const mags = [1, 1e-4, 0, 50, 1e-9, 0.3, 1e-20, 2];
    return fill(n, (i) => g() * mags[Math.floor(i / 16) % mags.length]!);
  },
  'two values': (n, r) => fill(n, () => (r() < 0.5 ? -1.5 : 2.25)),
  // Not in real weights, but ggml still writes defined bytes (NaN/Inf scales, cvttss2si's
  // 0x80000000 for NaN casts) and the twins must not drift from them.
  'NaN and infinities': (n, r) => {
    const g = gaussian(r);
    const odd = [NaN, Infinity, -Infinity];
    return fill(n, (i) => (i % 37 === 5 ? odd[Math.floor(r() * 3)]! : g()));
  },
};

export function widthsFor(type: GgmlType, blockSize: number): number[] {
  if (blockSize === 256) return [256, 512, 768];
  if (blockSize === 32) return [32, 96, 256, 768];
  return type === 'F32' ? [1, 5, 32] : [1, 7, 32, 96];
}

/** Throws naming the first differing byte (and its block), so a mismatch is readable. */
export function expectSameBytes(ours: Uint8Array, ref: Uint8Array, blockBytes: number, what: string): void {
  if (ours.length !== ref.length) throw new Error(`${what}: ${ours.length} bytes, ggml ${ref.length}`);
  for (let i = 0; i < ours.length; i++) {
    if (ours[i] !== ref[i]) {
      const b = Math.floor(i / blockBytes);
      const block = (a: Uint8Array) => Array.from(a.subarray(b * blockBytes, (b + 1) * blockBytes), (v) => v.toString(16).padStart(2, '0')).join(' ');
      throw new Error(`${what}: byte ${i} (block ${b}, offset ${i % blockBytes}) is ${ours[i]}, ggml ${ref[i]}\n ours ${block(ours)}\n ggml ${block(ref)}`);
    }
  }
}

/** Bitwise equality of two f32 arrays (so -0 and NaN payloads count). */
export function expectSameBits(ours: Float32Array, ref: Float32Array, what: string): void {
  if (ours.length !== ref.length) throw new Error(`${what}: ${ours.length} values, ggml ${ref.length}`);
  const a = new Uint32Array(ours.buffer, ours.byteOffset, ours.length);
  const b = new Uint32Array(ref.buffer, ref.byteOffset, ref.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      throw new Error(`${what}: value ${i} is ${ours[i]} (0x${a[i]!.toString(16)}), ggml ${ref[i]} (0x${b[i]!.toString(16)})`);
    }
  }
}
