import { describe, it, expect } from 'vitest';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, fromFloat32, toFloat32 } from '../../src/formats/dtype.ts';

const f32 = (x: number) => Math.fround(x);

describe('f16', () => {
  it('encodes exact values', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(0.5)).toBe(0x3800);
    expect(f32ToF16Bits(65504)).toBe(0x7bff); // largest finite
    expect(f32ToF16Bits(0)).toBe(0);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
  });

  it('rounds to nearest, ties to even', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, 0x3c00 is even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, 0x3c01 is odd
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just past the tie
    expect(f32ToF16Bits(1 + 2 ** -11 - 2 ** -20)).toBe(0x3c00);
    expect(f32ToF16Bits(f32(1 / 3))).toBe(0x3555);
  });

  it('handles subnormals, including rounding into and out of them', () => {
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie with 0, 0 is even
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2
    expect(f32ToF16Bits(1023 * 2 ** -24)).toBe(0x03ff); // largest subnormal
    expect(f32ToF16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // tie rounds up into the smallest normal
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400);
    expect(f32ToF16Bits(-(2 ** -24))).toBe(0x8001);
    expect(f32ToF16Bits(2 ** -30)).toBe(0x0000);
    expect(f32ToF16Bits(-(2 ** -30))).toBe(0x8000);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
  });

  it('overflows to infinity and keeps inf and NaN', () => {
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie with 65536, which is past the range
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e6)).toBe(0xfc00);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    const nan = f32ToF16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
  });

  it('decodes and re-encodes every one of the 65536 bit patterns', () => {
    for (let b = 0; b < 0x10000; b++) {
      const x = f16BitsToF32(b);
      if (Number.isNaN(x)) expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(x)))).toBe(true);
      else if (f32ToF16Bits(x) !== b) expect.fail(`f16 0x${b.toString(16)} -> ${x} -> 0x${f32ToF16Bits(x).toString(16)}`);
    }
  });
});

describe('bf16', () => {
  it('rounds to nearest, ties to even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16Bits(-(1 + 2 ** -8 + 2 ** -20))).toBe(0xbf81);
  });

  it('handles subnormals, inf, NaN and overflow', () => {
    expect(f32ToBf16Bits(2 ** -133)).toBe(0x0001); // smallest bf16 subnormal
    expect(bf16BitsToF32(0x0001)).toBe(2 ** -133);
    expect(f32ToBf16Bits(2 ** -134)).toBe(0x0000); // tie with 0
    expect(f32ToBf16Bits(3 * 2 ** -134)).toBe(0x0002);
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80);
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // f32 max rounds up to inf, as torch does
    const nan = f32ToBf16Bits(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
    expect(bf16BitsToF32(nan)).toBeNaN();
    // A NaN whose payload sits only in the low 16 bits must not turn into infinity.
    const lowNaN = new Float32Array(new Uint32Array([0x7f800001]).buffer)[0]!;
    expect(bf16BitsToF32(f32ToBf16Bits(lowNaN))).toBeNaN();
  });

  it('decodes and re-encodes every one of the 65536 bit patterns', () => {
    for (let b = 0; b < 0x10000; b++) {
      const x = bf16BitsToF32(b);
      if (Number.isNaN(x)) expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(x)))).toBe(true);
      else if (f32ToBf16Bits(x) !== b) expect.fail(`bf16 0x${b.toString(16)} -> ${x} -> 0x${f32ToBf16Bits(x).toString(16)}`);
    }
  });
});

describe('toFloat32 / fromFloat32', () => {
  const values = [0, 1, -2.5, 0.375, 1024, -0.0078125];

  it('round-trips exactly representable values through each dtype', () => {
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const bytes = fromFloat32(dtype, values);
      expect(bytes.byteLength).toBe(values.length * (dtype === 'F32' ? 4 : 2));
      expect([...toFloat32(dtype, bytes)]).toEqual(values);
    }
  });

  it('writes little-endian bytes', () => {
    expect([...fromFloat32('F16', [1])]).toEqual([0x00, 0x3c]);
    expect([...fromFloat32('BF16', [1])]).toEqual([0x80, 0x3f]);
    expect([...fromFloat32('F32', [1])]).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('reads from unaligned views without touching bytes outside them', () => {
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const bytes = fromFloat32(dtype, values);
      const backing = new Uint8Array(bytes.byteLength + 2).fill(0xff);
      backing.set(bytes, 1);
      const view = backing.subarray(1, 1 + bytes.byteLength);
      expect([...toFloat32(dtype, view)]).toEqual(values);
    }
  });
});
