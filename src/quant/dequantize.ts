// One row of a ggml tensor -> f32, bit for bit what ggml's dequantize_row_* gives (and
// ggml_fp16_to_fp32_row / ggml_bf16_to_fp32_row for the float types). ggml computes in f32; a JS
// number holds every intermediate exactly or rounds it once, so Math.fround sits wherever the C code
// stores or rounds to float, and the final store into the Float32Array is the last rounding.
// Layout key for the 32-weight blocks handled here (K-quants: dequantize-k.ts). d, m: f16 scale and
// min; w[j]: weight j of the block; lo(b)/hi(b): low/high nibble of byte b.
//   Q4_0 18 B: d, qs[16]           w[j] = (lo(qs[j]) - 8) d, w[j+16] = (hi(qs[j]) - 8) d
//   Q4_1 20 B: d, m, qs[16]        w[j] = lo(qs[j]) d + m,   w[j+16] = hi(qs[j]) d + m
//   Q5_0 22 B: d, qh u32, qs[16]   fifth bit of w[j] is qh bit j; w = (q - 16) d
//   Q5_1 24 B: d, m, qh u32, qs[16] as Q5_0 with w = q d + m
//   Q8_0 34 B: d, qs[32] int8      w[j] = qs[j] d

import { COMPUTE_TYPES, rowBytes, typeInfo, type GgmlType } from './ggml-types.ts';
import { f16Table } from './half.ts';
import { dequantizeQ2K, dequantizeQ3K, dequantizeQ4K, dequantizeQ5K, dequantizeQ6K } from './dequantize-k.ts';

/** `n` weights of one row (n a multiple of the type's block size; bytes exactly rowBytes(type, n)). */
export function dequantizeRow(type: GgmlType, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(checkedCount(n));
  dequantizeInto(type, bytes, out);
  return out;
}

/** As dequantizeRow, into `out` (its length is the weight count), for callers reusing a buffer. */
export function dequantizeInto(type: GgmlType, bytes: Uint8Array, out: Float32Array): void {
  if (!(COMPUTE_TYPES as readonly string[]).includes(type)) throw new Error(`cannot dequantize ggml type ${String(type)}`);
  const n = out.length;
  const expected = rowBytes(type, n);
  if (bytes.length !== expected) {
    throw new Error(`${n} ${type} weights take ${expected} bytes, got ${bytes.length}`);
  }
  const nb = n / typeInfo(type).blockSize;
  switch (type) {
    case 'F32': new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes); return;
    case 'F16': return f16Row(bytes, out);
    case 'BF16': return bf16Row(bytes, out);
    case 'Q4_0': return q4_0(bytes, out, nb);
    case 'Q4_1': return q4_1(bytes, out, nb);
    case 'Q5_0': return q5_0(bytes, out, nb);
    case 'Q5_1': return q5_1(bytes, out, nb);
    case 'Q8_0': return q8_0(bytes, out, nb);
    case 'Q2_K': return dequantizeQ2K(bytes, out, nb);
    case 'Q3_K': return dequantizeQ3K(bytes, out, nb);
    case 'Q4_K': return dequantizeQ4K(bytes, out, nb);
    case 'Q5_K': return dequantizeQ5K(bytes, out, nb);
    case 'Q6_K': return dequantizeQ6K(bytes, out, nb);
  }
}

function checkedCount(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`weight count must be a non-negative integer, got ${n}`);
  return n;
}

/** Through u32 views so that NaN payloads travel as ggml's do. */
function f16Row(b: Uint8Array, y: Float32Array): void {
  const table = new Uint32Array(f16Table().buffer);
  const out = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0, o = 0; i < out.length; i++, o += 2) out[i] = table[b[o]! | (b[o + 1]! << 8)]!;
}

function bf16Row(b: Uint8Array, y: Float32Array): void {
  const out = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0, o = 0; i < out.length; i++, o += 2) out[i] = (b[o]! << 16) | (b[o + 1]! << 24);
}

function q4_0(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 18, p += 32) {
    const d = h[b[o]! | (b[o + 1]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j]!;
      y[p + j] = ((q & 15) - 8) * d;
      y[p + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

function q4_1(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  const f = Math.fround;
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 20, p += 32) {
    const d = h[b[o]! | (b[o + 1]! << 8)]!;
    const m = h[b[o + 2]! | (b[o + 3]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = b[o + 4 + j]!;
      y[p + j] = f((q & 15) * d) + m;
      y[p + j + 16] = f((q >> 4) * d) + m;
    }
  }
}

function q5_0(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 22, p += 32) {
    const d = h[b[o]! | (b[o + 1]! << 8)]!;
    const qh = b[o + 2]! | (b[o + 3]! << 8) | (b[o + 4]! << 16) | (b[o + 5]! << 24);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 6 + j]!;
      y[p + j] = (((q & 15) | (((qh >>> j) & 1) << 4)) - 16) * d;
      y[p + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  }
}

function q5_1(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  const f = Math.fround;
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 24, p += 32) {
    const d = h[b[o]! | (b[o + 1]! << 8)]!;
    const m = h[b[o + 2]! | (b[o + 3]! << 8)]!;
    const qh = b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16) | (b[o + 7]! << 24);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 8 + j]!;
      y[p + j] = f(((q & 15) | (((qh >>> j) & 1) << 4)) * d) + m;
      y[p + j + 16] = f(((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d) + m;
    }
  }
}

function q8_0(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 34, p += 32) {
    const d = h[b[o]! | (b[o + 1]! << 8)]!;
    for (let j = 0; j < 32; j++) y[p + j] = ((b[o + 2 + j]! << 24) >> 24) * d;
  }
}
