// ggml's reference K-quantizers (quantize_row_q{2..6}_K_ref, what ggml_quantize_chunk runs without an
// importance matrix), byte for byte: per sub-block scale searches (quant-search.ts), 4-, 6- or 8-bit
// sub-block scales under an f16 super-block scale, then every weight re-quantized against the
// scales as stored. Math.fround mirrors each C float operation.
// Layout key: super-blocks of 256 weights; the byte layouts are in dequantize-k.ts. x[xo + e] is
// weight e of the super-block, y[o ..] its bytes; L holds the 256 levels before packing.

import { f16Table, f32ToF16 } from './half.ts';
import { GROUP_MAX_EPS, makeQ3Quants, makeQkx2Quants, makeQxQuants, nearestInt } from './quant-search.ts';
import { scaleMinK4, scaleQ3K } from './dequantize-k.ts';

const f = Math.fround;
const TENTH = f(0.1);

// Scratch shared by every call: quantization runs synchronously, one block at a time.
const L = new Uint8Array(256);
const scales = new Float32Array(16);
const mins = new Float32Array(16);
const weights = new Float32Array(32);
const levels = new Int32Array(16);

function writeF16(y: Uint8Array, o: number, h: number): void {
  y[o] = h & 0xff;
  y[o + 1] = h >> 8;
}

/** Four 2-bit levels per byte: byte l of each 32-byte group holds weights l, l+32, l+64, l+96. */
function pack2(y: Uint8Array, q: number): void {
  for (let j = 0; j < 256; j += 128) {
    for (let l = 0; l < 32; l++) {
      y[q + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
    }
  }
}

export function quantizeQ2K(x: Float32Array, y: Uint8Array, nb: number): void {
  const h = f16Table();
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 256, o += 84) {
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) weights[l] = Math.abs(x[xo + 16 * j + l]!);
      const scale = makeQkx2Quants(16, 3, x, xo + 16 * j, weights, L, 16 * j, mins, j, -0.5, TENTH, 15, true);
      scales[j] = scale;
      if (scale > maxScale) maxScale = scale;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }
    let d = 0;
    if (maxScale > 0) {
      const iscale = f(15 / maxScale);
      for (let j = 0; j < 16; j++) y[o + j] = nearestInt(f(iscale * scales[j]!));
      d = f32ToF16(f(maxScale / 15));
    } else {
      y.fill(0, o, o + 16);
    }
    let dmin = 0;
    if (maxMin > 0) {
      const iscale = f(15 / maxMin);
      for (let j = 0; j < 16; j++) y[o + j] = y[o + j]! | (nearestInt(f(iscale * mins[j]!)) << 4);
      dmin = f32ToF16(f(maxMin / 15));
    }
    writeF16(y, o + 80, d);
    writeF16(y, o + 82, dmin);
    const dv = h[d]!;
    const dminv = h[dmin]!;
    for (let j = 0; j < 16; j++) {
      const sc = y[o + j]!;
      const dd = f(dv * (sc & 0xf));
      if (dd === 0) continue;
      const dm = f(dminv * (sc >> 4));
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(f(x[xo + 16 * j + ii]! + dm) / dd));
        L[16 * j + ii] = l < 0 ? 0 : l > 3 ? 3 : l;
      }
    }
    pack2(y, o + 16);
  }
}

export function quantizeQ3K(x: Float32Array, y: Uint8Array, nb: number): void {
  const h = f16Table();
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 256, o += 110) {
    let maxScale = 0;
    let amax = 0;
    for (let j = 0; j < 16; j++) {
      const scale = makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j, levels);
      scales[j] = scale;
      if (Math.abs(scale) > amax) { amax = Math.abs(scale); maxScale = scale; }
    }
    const s = o + 96;
    y.fill(0, s, s + 12);
    let d = 0;
    if (maxScale !== 0) {
      const iscale = f(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        // ggml holds nearest_int's result in an int8_t before clamping.
        let l = (nearestInt(f(iscale * scales[j]!)) << 24) >> 24;
        l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
        if (j < 8) y[s + j] = l & 0xf;
        else y[s + j - 8] = y[s + j - 8]! | ((l & 0xf) << 4);
        y[s + 8 + (j & 3)] = y[s + 8 + (j & 3)]! | ((l >> 4) << (2 * (j >> 2)));
      }
      d = f32ToF16(f(1 / iscale));
    }
    writeF16(y, o + 108, d);
    const dv = h[d]!;
    for (let j = 0; j < 16; j++) {
      const dd = f(dv * (scaleQ3K(y, s, j) - 32));
      if (dd === 0) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(x[xo + 16 * j + ii]! / dd));
        L[16 * j + ii] = (l < -4 ? -4 : l > 3 ? 3 : l) + 4;
      }
    }
    // High bits: bit b of hmask[m] belongs to weight 32b + m.
    y.fill(0, o, o + 32);
    for (let j = 0; j < 256; j++) {
      if (L[j]! > 3) {
        y[o + (j & 31)] = y[o + (j & 31)]! | (1 << (j >> 5));
        L[j] = L[j]! - 4;
      }
    }
    pack2(y, o + 32);
  }
}

/**
 * The shared first half of Q4_K and Q5_K: scale/min search per 32-weight sub-block, the packed
 * 6-bit scales and mins, d and dmin, and the final levels in L (0..nmax).
 */
function scalesAndLevelsK(x: Float32Array, xo: number, y: Uint8Array, o: number, nmax: number, rmin: number, nstep: number): void {
  const h = f16Table();
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const b = xo + 32 * j;
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(x[b + l]! * x[b + l]!));
    const avX = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[b + l]!);
    const scale = makeQkx2Quants(32, nmax, x, b, weights, L, 32 * j, mins, j, rmin, TENTH, nstep, false);
    scales[j] = scale;
    if (scale > maxScale) maxScale = scale;
    if (mins[j]! > maxMin) maxMin = mins[j]!;
  }
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const s = o + 4;
  for (let j = 0; j < 8; j++) {
    // uint8_t in ggml: the low byte, then capped at 63.
    const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff);
    const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
    if (j < 4) {
      y[s + j] = ls;
      y[s + j + 4] = lm;
    } else {
      y[s + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      y[s + j - 4] = y[s + j - 4]! | ((ls >> 4) << 6);
      y[s + j] = y[s + j]! | ((lm >> 4) << 6);
    }
  }
  const d = f32ToF16(f(maxScale / 63));
  const dmin = f32ToF16(f(maxMin / 63));
  writeF16(y, o, d);
  writeF16(y, o + 2, dmin);
  const dv = h[d]!;
  const dminv = h[dmin]!;
  for (let j = 0; j < 8; j++) {
    const sm = scaleMinK4(y, s, j);
    const dd = f(dv * (sm & 0xff));
    if (dd === 0) continue;
    const dm = f(dminv * (sm >> 8));
    for (let ii = 0; ii < 32; ii++) {
      const l = nearestInt(f(f(x[xo + 32 * j + ii]! + dm) / dd));
      L[32 * j + ii] = l < 0 ? 0 : l > nmax ? nmax : l;
    }
  }
}

export function quantizeQ4K(x: Float32Array, y: Uint8Array, nb: number): void {
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 256, o += 144) {
    scalesAndLevelsK(x, xo, y, o, 15, -1, 20);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) y[o + 16 + 32 * c + l] = L[64 * c + l]! | (L[64 * c + 32 + l]! << 4);
    }
  }
}

export function quantizeQ5K(x: Float32Array, y: Uint8Array, nb: number): void {
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 256, o += 176) {
    scalesAndLevelsK(x, xo, y, o, 31, -0.5, 15);
    const qh = o + 16;
    y.fill(0, qh, qh + 32);
    for (let c = 0; c < 4; c++) {
      const m1 = 1 << (2 * c), m2 = 2 << (2 * c);
      for (let l = 0; l < 32; l++) {
        let l1 = L[64 * c + l]!;
        let l2 = L[64 * c + 32 + l]!;
        let hb = y[qh + l]!;
        if (l1 > 15) { l1 -= 16; hb |= m1; }
        if (l2 > 15) { l2 -= 16; hb |= m2; }
        y[qh + l] = hb;
        y[o + 48 + 32 * c + l] = l1 | (l2 << 4);
      }
    }
  }
}

export function quantizeQ6K(x: Float32Array, y: Uint8Array, nb: number): void {
  const h = f16Table();
  for (let i = 0, xo = 0, o = 0; i < nb; i++, xo += 256, o += 210) {
    let maxScale = 0;
    let maxAbs = 0;
    for (let j = 0; j < 16; j++) {
      const scale = makeQxQuants(16, 32, x, xo + 16 * j, L, 16 * j);
      scales[j] = scale;
      if (Math.abs(scale) > maxAbs) { maxAbs = Math.abs(scale); maxScale = scale; }
    }
    if (maxAbs < GROUP_MAX_EPS) {
      y.fill(0, o, o + 210);
      continue;
    }
    const iscale = f(-128 / maxScale);
    const d = f32ToF16(f(1 / iscale));
    writeF16(y, o + 208, d);
    const s = o + 192;
    for (let j = 0; j < 16; j++) y[s + j] = Math.min(127, nearestInt(f(iscale * scales[j]!)));
    const dv = h[d]!;
    for (let j = 0; j < 16; j++) {
      const dd = f(dv * ((y[s + j]! << 24) >> 24));
      if (dd === 0) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(x[xo + 16 * j + ii]! / dd));
        L[16 * j + ii] = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
      }
    }
    for (let t = 0; t < 2; t++) {
      const j = 128 * t, ql = o + 64 * t, qh = o + 128 + 32 * t;
      for (let l = 0; l < 32; l++) {
        const a = L[j + l]!, b = L[j + l + 32]!, c = L[j + l + 64]!, e = L[j + l + 96]!;
        y[ql + l] = (a & 0xf) | ((c & 0xf) << 4);
        y[ql + l + 32] = (b & 0xf) | ((e & 0xf) << 4);
        y[qh + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
      }
    }
  }
}
