// f32 rows -> ggml tensor bytes, byte for byte what ggml_quantize_chunk writes without an importance
// matrix: quantize_row_*_ref for the block formats (32-weight ones here, K-quants in quantize-k.ts),
// ggml's round-to-nearest-even for F16 and BF16 (NaN: F16 0x7e00, BF16 quieted top bits), a copy for
// F32. Math.fround mirrors each C float operation; C's float -> int8 casts go through cvttss2si's
// rules (truncToInt32) and keep the low byte, as the x86 build does.
// Layout key: values are row-major, `cols` weights per row; rows are concatenated blocks, so blocks
// never straddle rows. The byte layout of each type is in dequantize.ts / dequantize-k.ts.

import { COMPUTE_TYPES, rowBytes, typeInfo, type GgmlType } from './ggml-types.ts';
import { f32BitsToBf16Bits, f32BitsToF16Bits, f32ToF16 } from './half.ts';
import { roundAway, truncToInt32 } from './quant-search.ts';
import { quantizeQ2K, quantizeQ3K, quantizeQ4K, quantizeQ5K, quantizeQ6K } from './quantize-k.ts';

const f = Math.fround;
const FLT_MAX = 3.4028234663852886e38;

/** `rows` rows of `cols` weights each; cols must be a multiple of the type's block size. */
export function quantizeRows(type: GgmlType, values: Float32Array, rows: number, cols: number): Uint8Array {
  if (!(COMPUTE_TYPES as readonly string[]).includes(type)) throw new Error(`cannot quantize to ggml type ${String(type)}`);
  if (!Number.isSafeInteger(rows) || rows < 0 || !Number.isSafeInteger(cols) || cols < 0) {
    throw new Error(`rows and cols must be non-negative integers, got ${rows} x ${cols}`);
  }
  const { blockSize } = typeInfo(type);
  if (cols % blockSize !== 0) {
    throw new Error(`${type} packs ${blockSize} weights per block; a row of ${cols} is not a multiple of ${blockSize}`);
  }
  if (values.length !== rows * cols) throw new Error(`${rows} x ${cols} weights expected, got ${values.length} values`);
  const out = new Uint8Array(rows * rowBytes(type, cols));
  const nb = (rows * cols) / blockSize;
  switch (type) {
    case 'F32': out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)); break;
    case 'F16': f16Row(values, out); break;
    case 'BF16': bf16Row(values, out); break;
    case 'Q4_0': q4_0(values, out, nb); break;
    case 'Q4_1': q4_1(values, out, nb); break;
    case 'Q5_0': q5_0(values, out, nb); break;
    case 'Q5_1': q5_1(values, out, nb); break;
    case 'Q8_0': q8_0(values, out, nb); break;
    case 'Q2_K': quantizeQ2K(values, out, nb); break;
    case 'Q3_K': quantizeQ3K(values, out, nb); break;
    case 'Q4_K': quantizeQ4K(values, out, nb); break;
    case 'Q5_K': quantizeQ5K(values, out, nb); break;
    case 'Q6_K': quantizeQ6K(values, out, nb); break;
  }
  return out;
}

function f16Row(x: Float32Array, y: Uint8Array): void {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < bits.length; i++) {
    const h = f32BitsToF16Bits(bits[i]!);
    y[2 * i] = h & 0xff;
    y[2 * i + 1] = h >> 8;
  }
}

function bf16Row(x: Float32Array, y: Uint8Array): void {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < bits.length; i++) {
    const h = f32BitsToBf16Bits(bits[i]!);
    y[2 * i] = h & 0xff;
    y[2 * i + 1] = h >> 8;
  }
}

function writeF16(y: Uint8Array, o: number, h: number): void {
  y[o] = h & 0xff;
  y[o + 1] = h >> 8;
}

/** (int8_t)(v) in ggml's x86 build. */
function toInt8(v: number): number {
  return (truncToInt32(v) << 24) >> 24;
}

/** The value of largest magnitude, sign kept (first one wins a tie), as Q4_0/Q5_0 pick it. */
function signedAbsMax(x: Float32Array, xo: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[xo + j]!;
    if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
  }
  return max;
}

function q4_0(x: Float32Array, y: Uint8Array, nb: number): void {
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 32, o += 18) {
    const d = f(signedAbsMax(x, xo) / -8);
    const id = d !== 0 ? f(1 / d) : 0;
    writeF16(y, o, f32ToF16(d));
    for (let j = 0; j < 16; j++) {
      const x0 = f(x[xo + j]! * id);
      const x1 = f(x[xo + 16 + j]! * id);
      const q0 = Math.min(15, toInt8(f(x0 + 8.5)));
      const q1 = Math.min(15, toInt8(f(x1 + 8.5)));
      y[o + 2 + j] = (q0 & 0xff) | (q1 << 4);
    }
  }
}

function minMax(x: Float32Array, xo: number, into: Float32Array): void {
  let min = FLT_MAX;
  let max = -FLT_MAX;
  for (let j = 0; j < 32; j++) {
    const v = x[xo + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  into[0] = min;
  into[1] = max;
}

const range = new Float32Array(2);

function q4_1(x: Float32Array, y: Uint8Array, nb: number): void {
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 32, o += 20) {
    minMax(x, xo, range);
    const min = range[0]!;
    const d = f(f(range[1]! - min) / 15);
    const id = d !== 0 ? f(1 / d) : 0;
    writeF16(y, o, f32ToF16(d));
    writeF16(y, o + 2, f32ToF16(min));
    for (let j = 0; j < 16; j++) {
      const x0 = f(f(x[xo + j]! - min) * id);
      const x1 = f(f(x[xo + 16 + j]! - min) * id);
      const q0 = Math.min(15, toInt8(f(x0 + 0.5)));
      const q1 = Math.min(15, toInt8(f(x1 + 0.5)));
      y[o + 4 + j] = (q0 & 0xff) | (q1 << 4);
    }
  }
}

function q5_0(x: Float32Array, y: Uint8Array, nb: number): void {
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 32, o += 22) {
    const d = f(signedAbsMax(x, xo) / -16);
    const id = d !== 0 ? f(1 / d) : 0;
    writeF16(y, o, f32ToF16(d));
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const x0 = f(x[xo + j]! * id);
      const x1 = f(x[xo + 16 + j]! * id);
      const q0 = Math.min(31, toInt8(f(x0 + 16.5))) & 0xff;
      const q1 = Math.min(31, toInt8(f(x1 + 16.5))) & 0xff;
      y[o + 6 + j] = (q0 & 0xf) | ((q1 & 0xf) << 4);
      qh |= ((q0 & 0x10) >> 4) << j;
      qh |= ((q1 & 0x10) >> 4) << (j + 16);
    }
    writeU32(y, o + 2, qh);
  }
}

function q5_1(x: Float32Array, y: Uint8Array, nb: number): void {
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 32, o += 24) {
    minMax(x, xo, range);
    const min = range[0]!;
    const d = f(f(range[1]! - min) / 31);
    const id = d !== 0 ? f(1 / d) : 0;
    writeF16(y, o, f32ToF16(d));
    writeF16(y, o + 2, f32ToF16(min));
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const x0 = f(f(x[xo + j]! - min) * id);
      const x1 = f(f(x[xo + 16 + j]! - min) * id);
      // (uint8_t) with no cap, unlike Q4_1.
      const q0 = truncToInt32(f(x0 + 0.5)) & 0xff;
      const q1 = truncToInt32(f(x1 + 0.5)) & 0xff;
      y[o + 8 + j] = (q0 & 0xf) | ((q1 & 0xf) << 4);
      qh |= ((q0 & 0x10) >> 4) << j;
      qh |= ((q1 & 0x10) >> 4) << (j + 16);
    }
    writeU32(y, o + 4, qh);
  }
}

function writeU32(y: Uint8Array, o: number, v: number): void {
  y[o] = v & 0xff;
  y[o + 1] = (v >>> 8) & 0xff;
  y[o + 2] = (v >>> 16) & 0xff;
  y[o + 3] = v >>> 24;
}

function q8_0(x: Float32Array, y: Uint8Array, nb: number): void {
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 32, o += 34) {
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[xo + j]!);
      amax = amax > a ? amax : a;
    }
    const d = f(amax / 127);
    const id = d !== 0 ? f(1 / d) : 0;
    writeF16(y, o, f32ToF16(d));
    for (let j = 0; j < 32; j++) y[o + 2 + j] = truncToInt32(roundAway(f(x[xo + j]! * id)));
  }
}
