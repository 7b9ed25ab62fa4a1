// dequantizeRow against ggml's dequantize_row_* (and its f16/bf16 row converters), compared as u32
// bits so -0 and NaN payloads count: on what ggml's quantizer writes, and on random block bytes,
// which reach bit patterns no quantizer emits.

import { describe, expect, it } from 'vitest';
import { COMPUTE_TYPES, QUANT_TYPES, rowBytes, typeInfo, type QuantType } from '../../src/quant/ggml-types.ts';
import { dequantizeInto, dequantizeRow } from '../../src/quant/dequantize.ts';
import { ggmlDequantize, ggmlQuantize } from '../helpers/ggml.ts';
import { expectSameBits, GENERATORS, rng, widthsFor } from './inputs.ts';

/** Byte offsets of the f16 scales inside one block of each type. */
const SCALE_OFFSETS: Record<QuantType, number[]> = {
  Q4_0: [0], Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q8_0: [0],
  Q2_K: [80, 82], Q3_K: [108], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208],
};

/** Random block bytes whose f16 scales are finite (any sign, subnormals included). */
function randomBlocks(type: QuantType, blocks: number, r: () => number): Uint8Array {
  const { blockBytes } = typeInfo(type);
  const bytes = new Uint8Array(blocks * blockBytes);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
  for (let b = 0; b < blocks; b++) {
    for (const off of SCALE_OFFSETS[type]) {
      const hi = b * blockBytes + off + 1;
      // Exponent all ones would be Inf/NaN; take one bit out. Keep some scales small and subnormal.
      if ((bytes[hi]! & 0x7c) === 0x7c) bytes[hi] = bytes[hi]! & ~0x40;
      if (r() < 0.2) bytes[hi] = bytes[hi]! & 0x83;
    }
  }
  return bytes;
}

describe('dequantizeRow matches ggml bit for bit', () => {
  for (const type of QUANT_TYPES) {
    const info = typeInfo(type);
    it(`${type} on random block bytes`, () => {
      const r = rng(7 + info.id);
      for (const blocks of [1, 3, 64]) {
        for (let rep = 0; rep < 8; rep++) {
          const bytes = randomBlocks(type, blocks, r);
          const n = blocks * info.blockSize;
          expectSameBits(dequantizeRow(type, bytes, n), ggmlDequantize(type, bytes, n), `${type} ${blocks} blocks, try ${rep}`);
        }
      }
    });

    it(`${type} on what ggml's quantizer writes`, () => {
      let seed = 100;
      for (const [name, gen] of Object.entries(GENERATORS)) {
        for (const cols of widthsFor(type, info.blockSize)) {
          const values = gen(2 * cols, rng(seed++));
          const bytes = ggmlQuantize(type, values, 2, cols);
          const n = 2 * cols;
          expectSameBits(dequantizeRow(type, bytes, n), ggmlDequantize(type, bytes, n), `${type} ${name} ${n}`);
        }
      }
    });
  }

  it('non-finite scales give ggml\'s NaN and infinity bits', () => {
    for (const type of QUANT_TYPES) {
      const info = typeInfo(type);
      const r = rng(31 + info.id);
      for (const h of [0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe55]) {
        const bytes = randomBlocks(type, 4, r);
        for (let b = 0; b < 4; b++) {
          const off = SCALE_OFFSETS[type][b % SCALE_OFFSETS[type].length]!;
          bytes[b * info.blockBytes + off] = h & 0xff;
          bytes[b * info.blockBytes + off + 1] = h >> 8;
        }
        const n = 4 * info.blockSize;
        expectSameBits(dequantizeRow(type, bytes, n), ggmlDequantize(type, bytes, n), `${type} scale 0x${h.toString(16)}`);
      }
    }
  });

  it('F16 and BF16: all 65536 bit patterns, NaN payloads included', () => {
    const bytes = new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer);
    for (const type of ['F16', 'BF16'] as const) {
      expectSameBits(dequantizeRow(type, bytes, 65536), ggmlDequantize(type, bytes, 65536), type);
    }
  });

  it('F32 copies bits, NaN payloads included', () => {
    const r = rng(5);
    const bits = new Uint32Array(4096).map(() => Math.floor(r() * 2 ** 32));
    bits[0] = 0x7f800001; // signalling NaN
    bits[1] = 0xffc12345;
    const bytes = new Uint8Array(bits.buffer);
    expect(new Uint32Array(dequantizeRow('F32', bytes, 4096).buffer)).toEqual(bits);
  });

  it('reads from a view at an odd offset and writes into a caller buffer', () => {
    const r = rng(11);
    for (const type of COMPUTE_TYPES) {
      const { blockSize } = typeInfo(type);
      const n = 2 * Math.max(blockSize, 32);
      const src = ggmlQuantize(type, new Float32Array(n).map(() => r() - 0.5), 1, n);
      const padded = new Uint8Array(src.length + 3);
      padded.set(src, 1);
      const view = padded.subarray(1, 1 + src.length);
      const out = new Float32Array(n + 8).subarray(4, 4 + n);
      dequantizeInto(type, view, out);
      // ggml has no dequantize_row for F32; its rows are the bytes themselves.
      const ref = type === 'F32' ? new Float32Array(src.slice().buffer) : ggmlDequantize(type, src, n);
      expectSameBits(out, ref, `${type} via view`);
    }
  });
});

describe('dequantizeRow refuses bad sizes', () => {
  it('needs exactly rowBytes(type, n) bytes', () => {
    for (const type of COMPUTE_TYPES) {
      const { blockSize } = typeInfo(type);
      const n = 2 * blockSize;
      const size = rowBytes(type, n);
      expect(() => dequantizeRow(type, new Uint8Array(size - 1), n)).toThrow(new RegExp(`${type}.*${size}`));
      expect(() => dequantizeRow(type, new Uint8Array(size + 1), n)).toThrow(/bytes/);
    }
  });

  it('needs n to be a whole number of blocks', () => {
    expect(() => dequantizeRow('Q4_K', new Uint8Array(144), 128)).toThrow(/Q4_K.*256/);
    expect(() => dequantizeRow('Q8_0', new Uint8Array(34), 33)).toThrow(/Q8_0.*32/);
  });

  it('refuses negative or fractional counts and unknown types', () => {
    expect(() => dequantizeRow('F32', new Uint8Array(0), -1)).toThrow(/non-negative integer/);
    expect(() => dequantizeRow('F16', new Uint8Array(3), 1.5)).toThrow(/non-negative integer/);
    expect(() => dequantizeRow('IQ2_XS' as never, new Uint8Array(74), 256)).toThrow(/IQ2_XS/);
  });

  it('gives an empty row for n = 0', () => {
    expect(dequantizeRow('Q6_K', new Uint8Array(0), 0).length).toBe(0);
  });
});
