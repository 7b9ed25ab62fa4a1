// quantizeRows against ggml's own ggml_quantize_chunk (no importance matrix), byte for byte, for
// every type tabtune computes with, over inputs chosen to reach each quantizer's edge paths.

import { describe, expect, it } from 'vitest';
import { COMPUTE_TYPES, QUANT_TYPES, typeInfo } from '../../src/quant/ggml-types.ts';
import { quantizeRows } from '../../src/quant/quantize.ts';
import { ggmlQuantize } from '../helpers/ggml.ts';
import { expectSameBytes, GENERATORS, gaussian, rng, widthsFor } from './inputs.ts';

describe('quantizeRows matches ggml_quantize_chunk', () => {
  for (const type of COMPUTE_TYPES) {
    const info = typeInfo(type);
    describe(type, () => {
      let seed = 1;
      for (const [name, gen] of Object.entries(GENERATORS)) {
        const s = seed++;
        it(name, () => {
          for (const cols of widthsFor(type, info.blockSize)) {
            const rows = 3;
            // Float types take any width; keep generators on multiples of 16 anyway.
            const n = Math.ceil((rows * cols) / 16) * 16;
            const values = gen(n, rng(s * 1000 + cols)).subarray(0, rows * cols);
            expectSameBytes(quantizeRows(type, values, rows, cols), ggmlQuantize(type, values, rows, cols), info.blockBytes, `${type} ${name} ${rows}x${cols}`);
          }
        });
      }

      it('many random rows of varied scale', () => {
        const r = rng(4242);
        const g = gaussian(r);
        const rows = 16, cols = 4096;
        const values = new Float32Array(rows * cols);
        for (let i = 0; i < values.length; i++) {
          // A different magnitude per 16 weights, so sub-block scales spread over their range.
          const mag = 10 ** (-6 + 7 * ((Math.floor(i / 16) * 0.618) % 1));
          values[i] = g() * mag + (i % 512 < 16 ? mag * 0.5 : 0);
        }
        expectSameBytes(quantizeRows(type, values, rows, cols), ggmlQuantize(type, values, rows, cols), info.blockBytes, `${type} random ${rows}x${cols}`);
      });
    });
  }

  it('F16 and BF16 round every kind of f32 bit pattern as ggml does', () => {
    const r = rng(99);
    const bits = new Uint32Array(1 << 18);
    for (let i = 0; i < bits.length; i++) {
      const kind = i & 3;
      if (kind === 0) bits[i] = Math.floor(r() * 2 ** 32);
      // Around f16's subnormal, normal and overflow boundaries, and ties (low 13 bits 0x1000).
      else if (kind === 1) bits[i] = (((0x33000000 + Math.floor(r() * 0x14800000)) & ~0x1fff) | (r() < 0.5 ? 0x1000 : Math.floor(r() * 0x2000))) | (r() < 0.5 ? 0x80000000 : 0);
      else if (kind === 2) bits[i] = (0x7f800000 + Math.floor(r() * 0x800000)) | (r() < 0.5 ? 0x80000000 : 0); // Inf, NaNs
      else bits[i] = (Math.floor(r() * 0x800000) | (r() < 0.5 ? 0x80000000 : 0)) >>> 0; // f32 subnormals
    }
    const values = new Float32Array(bits.buffer);
    for (const type of ['F16', 'BF16', 'F32'] as const) {
      expectSameBytes(quantizeRows(type, values, 1, values.length), ggmlQuantize(type, values, 1, values.length), 2, type);
    }
  });
});

describe('quantizeRows refuses bad shapes', () => {
  it('names the type and block size when cols is not a multiple of it', () => {
    for (const type of QUANT_TYPES) {
      const { blockSize } = typeInfo(type);
      const cols = blockSize + 16;
      expect(() => quantizeRows(type, new Float32Array(2 * cols), 2, cols)).toThrow(new RegExp(`${type}.*${blockSize}`));
    }
  });

  it('checks the value count against rows x cols', () => {
    expect(() => quantizeRows('Q8_0', new Float32Array(64), 3, 32)).toThrow(/3 x 32/);
    expect(() => quantizeRows('F16', new Float32Array(5), 1, 4)).toThrow(/1 x 4/);
  });

  it('refuses types it does not implement and non-integer shapes', () => {
    expect(() => quantizeRows('IQ4_NL' as never, new Float32Array(32), 1, 32)).toThrow(/IQ4_NL/);
    expect(() => quantizeRows('Q8_0', new Float32Array(32), 0.5, 64)).toThrow(/integers/);
  });

  it('returns an empty buffer for zero rows', () => {
    expect(quantizeRows('Q4_K', new Float32Array(0), 0, 256).length).toBe(0);
  });
});
