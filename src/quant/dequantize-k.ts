// Dequantization of ggml's K-quant super-blocks (256 weights each), bit for bit as ggml's
// dequantize_row_q{2..6}_K: Math.fround wherever the C code holds a float (`const float d1 = d * sc`),
// and the store into the Float32Array rounds the last operation.
// Layout key (byte offsets in one super-block; d, dmin: f16; w[e]: weight e of 256):
//   Q2_K  84 B: scales[16] @0 (lo nibble: scale, hi: min of 16 weights), qs[64] @16, d @80, dmin @82
//               w[n+32j+16h+l] (n = 0|128, j < 4, h < 2, l < 16) = 2 bits at 2j of qs[n/4+16h+l],
//               sub-block n/16+2j+h; w = d*sc * q - dmin*m
//   Q3_K 110 B: hmask[32] @0, qs[64] @32, scales[12] @96 (16 x 6 bits, biased by 32), d @108
//               same order as Q2_K; third bit = hmask[16h+l] bit (n/32+j), clear means q - 4
//   Q4_K 144 B: d @0, dmin @2, scales[12] @4 (8 x 6-bit scale + 8 x 6-bit min), qs[128] @16
//               w[64c+l] = lo(qs[32c+l]), w[64c+32+l] = hi(qs[32c+l]), sub-blocks 2c, 2c+1 of 32;
//               w = d*sc * q - dmin*m
//   Q5_K 176 B: d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48: as Q4_K, plus fifth bit
//               = qh[l] bit 2c (low nibble) or 2c+1 (high nibble)
//   Q6_K 210 B: ql[128] @0, qh[64] @128, scales[16] int8 @192, d @208; per half t (128 weights):
//               w[128t+32k+l] (k < 4) = 4 bits of ql[64t+32(k&1)+l] (low for k < 2) | 2 bits at 2k
//               of qh[32t+l] << 4, minus 32; scale scales[8t+2k+l/16]; w = d*sc * q

import { f16Table } from './half.ts';

/** The 6-bit scale (low byte) and min (high byte) of sub-block j from Q4_K/Q5_K's scales[12] at s. */
export function scaleMinK4(b: Uint8Array, s: number, j: number): number {
  if (j < 4) return (b[s + j]! & 63) | ((b[s + j + 4]! & 63) << 8);
  const sc = (b[s + j + 4]! & 0xf) | ((b[s + j - 4]! >> 6) << 4);
  const m = (b[s + j + 4]! >> 4) | ((b[s + j]! >> 6) << 4);
  return sc | (m << 8);
}

/** Scale j (0..15, still biased by 32) of Q3_K's 12 packed scale bytes at s. */
export function scaleQ3K(b: Uint8Array, s: number, j: number): number {
  const low = j < 8 ? b[s + j]! & 0xf : b[s + j - 8]! >> 4;
  return low | (((b[s + 8 + (j & 3)]! >> (2 * (j >> 2))) & 3) << 4);
}

export function dequantizeQ2K(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  const f = Math.fround;
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 84, p += 256) {
    const d = h[b[o + 80]! | (b[o + 81]! << 8)]!;
    const min = h[b[o + 82]! | (b[o + 83]! << 8)]!;
    for (let n = 0; n < 256; n += 128) {
      for (let j = 0; j < 4; j++) {
        const shift = 2 * j;
        for (let hh = 0; hh < 2; hh++) {
          const sc = b[o + n / 16 + 2 * j + hh]!;
          const dl = f(d * (sc & 0xf));
          const ml = f(min * (sc >> 4));
          const q = o + 16 + n / 4 + 16 * hh;
          const out = p + n + 32 * j + 16 * hh;
          for (let l = 0; l < 16; l++) y[out + l] = f(dl * ((b[q + l]! >> shift) & 3)) - ml;
        }
      }
    }
  }
}

export function dequantizeQ3K(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  const f = Math.fround;
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 110, p += 256) {
    const d = h[b[o + 108]! | (b[o + 109]! << 8)]!;
    for (let n = 0; n < 256; n += 128) {
      for (let j = 0; j < 4; j++) {
        const shift = 2 * j;
        const m = 1 << (n / 32 + j);
        for (let hh = 0; hh < 2; hh++) {
          const dl = f(d * (scaleQ3K(b, o + 96, n / 16 + 2 * j + hh) - 32));
          const q = o + 32 + n / 4 + 16 * hh;
          const hm = o + 16 * hh;
          const out = p + n + 32 * j + 16 * hh;
          for (let l = 0; l < 16; l++) {
            y[out + l] = dl * (((b[q + l]! >> shift) & 3) - ((b[hm + l]! & m) !== 0 ? 0 : 4));
          }
        }
      }
    }
  }
}

export function dequantizeQ4K(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  const f = Math.fround;
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 144, p += 256) {
    const d = h[b[o]! | (b[o + 1]! << 8)]!;
    const min = h[b[o + 2]! | (b[o + 3]! << 8)]!;
    for (let c = 0; c < 4; c++) {
      const sm1 = scaleMinK4(b, o + 4, 2 * c);
      const sm2 = scaleMinK4(b, o + 4, 2 * c + 1);
      const d1 = f(d * (sm1 & 0xff)), m1 = f(min * (sm1 >> 8));
      const d2 = f(d * (sm2 & 0xff)), m2 = f(min * (sm2 >> 8));
      const q = o + 16 + 32 * c;
      const out = p + 64 * c;
      for (let l = 0; l < 32; l++) {
        const v = b[q + l]!;
        y[out + l] = f(d1 * (v & 0xf)) - m1;
        y[out + 32 + l] = f(d2 * (v >> 4)) - m2;
      }
    }
  }
}

export function dequantizeQ5K(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  const f = Math.fround;
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 176, p += 256) {
    const d = h[b[o]! | (b[o + 1]! << 8)]!;
    const min = h[b[o + 2]! | (b[o + 3]! << 8)]!;
    for (let c = 0; c < 4; c++) {
      const sm1 = scaleMinK4(b, o + 4, 2 * c);
      const sm2 = scaleMinK4(b, o + 4, 2 * c + 1);
      const d1 = f(d * (sm1 & 0xff)), m1 = f(min * (sm1 >> 8));
      const d2 = f(d * (sm2 & 0xff)), m2 = f(min * (sm2 >> 8));
      const u1 = 1 << (2 * c), u2 = 2 << (2 * c);
      const qh = o + 16;
      const q = o + 48 + 32 * c;
      const out = p + 64 * c;
      for (let l = 0; l < 32; l++) {
        const v = b[q + l]!;
        const hb = b[qh + l]!;
        y[out + l] = f(d1 * ((v & 0xf) + ((hb & u1) !== 0 ? 16 : 0))) - m1;
        y[out + 32 + l] = f(d2 * ((v >> 4) + ((hb & u2) !== 0 ? 16 : 0))) - m2;
      }
    }
  }
}

export function dequantizeQ6K(b: Uint8Array, y: Float32Array, nb: number): void {
  const h = f16Table();
  const f = Math.fround;
  for (let i = 0, o = 0, p = 0; i < nb; i++, o += 210, p += 256) {
    const d = h[b[o + 208]! | (b[o + 209]! << 8)]!;
    for (let t = 0; t < 2; t++) {
      const ql = o + 64 * t;
      const qh = o + 128 + 32 * t;
      const sc = o + 192 + 8 * t;
      const out = p + 128 * t;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const a = b[ql + l]!, c = b[ql + 32 + l]!, hb = b[qh + l]!;
        y[out + l] = f(d * ((b[sc + is]! << 24) >> 24)) * (((a & 0xf) | ((hb & 3) << 4)) - 32);
        y[out + 32 + l] = f(d * ((b[sc + is + 2]! << 24) >> 24)) * (((c & 0xf) | (((hb >> 2) & 3) << 4)) - 32);
        y[out + 64 + l] = f(d * ((b[sc + is + 4]! << 24) >> 24)) * (((a >> 4) | (((hb >> 4) & 3) << 4)) - 32);
        y[out + 96 + l] = f(d * ((b[sc + is + 6]! << 24) >> 24)) * (((c >> 4) | (((hb >> 6) & 3) << 4)) - 32);
      }
    }
  }
}
