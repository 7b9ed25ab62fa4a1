// 16-bit float conversions exactly as ggml does them (ggml-impl.h's portable
// ggml_compute_fp16_to_fp32 / ggml_compute_fp32_to_fp16 and ggml_compute_fp32_to_bf16), working on
// raw bits so that NaN payloads come out as ggml's do.
// Layout key: f16 = sign:1 exponent:5 (bias 15) mantissa:10; bf16 = the top 16 bits of an f32;
// f32 = sign:1 exponent:8 (bias 127) mantissa:23. All little-endian in files.

import { f16BitsToF32 } from '../formats/dtype.ts';

let f16Values: Float32Array | undefined;

/**
 * f16 bits -> f32 for all 65536 patterns. ggml's conversion multiplies a rebiased NaN by 2^-112,
 * which on x86 keeps the payload and sets the quiet bit; the table's NaN entries hold those bits,
 * so copy through a Uint32Array view where NaN bits matter.
 */
export function f16Table(): Float32Array {
  if (!f16Values) {
    const t = new Float32Array(65536);
    const bits = new Uint32Array(t.buffer);
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) bits[h] = ((h & 0x8000) << 16) | 0x7fc00000 | ((h & 0x3ff) << 13);
      else t[h] = f16BitsToF32(h);
    }
    f16Values = t;
  }
  return f16Values;
}

/** f32 bits -> f16 bits, round to nearest even; every NaN becomes sign | 0x7e00 as in ggml. */
export function f32BitsToF16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const abs = b & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  // 65520 and above round to infinity (65520 is the tie between 65504 and 2^16).
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs >= 0x38800000) {
    // Normal in f16: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits;
    // a carry out of the mantissa correctly bumps the exponent.
    const r = abs - 0x38000000;
    return sign | ((r + 0xfff + ((r >>> 13) & 1)) >>> 13);
  }
  // Subnormal in f16 (or zero): the result counts units of 2^-24.
  const exp = abs >>> 23;
  if (exp < 102) return sign; // below 2^-25, which itself ties to even (zero)
  const mant = (abs & 0x7fffff) | 0x800000;
  const shift = 126 - exp;
  const half = 1 << (shift - 1);
  const rem = mant & ((1 << shift) - 1);
  let r = mant >>> shift;
  if (rem > half || (rem === half && (r & 1) !== 0)) r++;
  return sign | r;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** A number (rounded to f32 first, as storing it in a C float does) -> f16 bits. */
export function f32ToF16(x: number): number {
  scratchF32[0] = x;
  return f32BitsToF16Bits(scratchU32[0]!);
}

/** f32 bits -> bf16 bits: round to nearest even; NaN keeps its top bits and is made quiet. */
export function f32BitsToBf16Bits(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}
