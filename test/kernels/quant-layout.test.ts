// src/quant/gpu-layout.ts: ggml's blocks repacked to whole words for the GPU, and back, bit for bit;
// and uploadMatrix's checks and sizes for block formats.
// Dimension key: R = rows, C = weights per row (a multiple of the block size).

import { describe, expect, it } from 'vitest';
import { matrixBytes, maxRowsPerChunk, uploadMatrix, WEIGHT_BYTES } from '../../src/kernels/weights.ts';
import { QUANT_TYPES, typeInfo } from '../../src/quant/ggml-types.ts';
import { gpuBlockBytes, repackForGpu, unpackFromGpu } from '../../src/quant/gpu-layout.ts';
import { randomArray } from '../helpers/close.ts';
import { ggmlQuantize } from '../helpers/ggml.ts';
import { testGpu } from '../helpers/gpu.ts';

describe.each(QUANT_TYPES)('%s GPU layout', (type) => {
  const { blockSize, blockBytes } = typeInfo(type);

  it('has blocks of whole words, at most 6 bytes larger than ggml\'s', () => {
    expect(gpuBlockBytes(type) % 4).toBe(0);
    expect(gpuBlockBytes(type)).toBeGreaterThanOrEqual(blockBytes);
    expect(gpuBlockBytes(type)).toBeLessThanOrEqual(blockBytes + 6);
  });

  it('round-trips ggml\'s bytes exactly', () => {
    const R = 5;
    const C = 3 * blockSize;
    const bytes = ggmlQuantize(type, Float32Array.from(randomArray(R * C, 7, 3)), R, C);
    const gpu = repackForGpu(type, bytes, R, C);
    expect(gpu.byteLength).toBe(R * (C / blockSize) * gpuBlockBytes(type));
    expect(Buffer.compare(unpackFromGpu(type, gpu, R, C), bytes)).toBe(0);
  });

  it('round-trips every byte value, padding aside', () => {
    // Random bytes, not just what the quantizer writes: every bit of every field must survive.
    const blocks = 4;
    const bytes = Uint8Array.from(randomArray(blocks * blockBytes, 11), (v) => Math.floor((v + 1) * 128) & 255);
    const gpu = repackForGpu(type, bytes, 1, blocks * blockSize);
    expect(Buffer.compare(unpackFromGpu(type, gpu, 1, blocks * blockSize), bytes)).toBe(0);
    // The same bytes at an odd offset in a larger buffer (a file read need not be aligned).
    const odd = new Uint8Array(bytes.byteLength + 1).subarray(1);
    odd.set(bytes);
    expect(Buffer.compare(repackForGpu(type, odd, 1, blocks * blockSize), gpu)).toBe(0);
  });

  it('refuses rows that are not whole blocks, and the wrong byte count', () => {
    expect(() => repackForGpu(type, new Uint8Array(blockBytes), 1, blockSize + 4)).toThrow(/whole number/);
    expect(() => repackForGpu(type, new Uint8Array(blockBytes + 1), 1, blockSize)).toThrow(/bytes given/);
  });
});

describe.each(QUANT_TYPES)('uploadMatrix with %s', (type) => {
  const { blockSize, blockBytes } = typeInfo(type);

  it('counts the GPU bytes of whole rows', () => {
    expect(matrixBytes(type, 3, 2 * blockSize)).toBe(3 * 2 * gpuBlockBytes(type));
    expect(matrixBytes(type, 3, 2 * blockSize)).toBe(3 * 2 * blockSize * WEIGHT_BYTES[type]);
  });

  it('splits into chunks of whole rows, as many as one binding holds', async () => {
    const gpu = await testGpu();
    expect(maxRowsPerChunk(gpu, type, blockSize)).toBe(Math.floor(gpu.limits.maxStorageBufferBindingSize / gpuBlockBytes(type)));
    const bytes = ggmlQuantize(type, Float32Array.from(randomArray(7 * blockSize, 3)), 7, blockSize);
    const m = uploadMatrix(gpu, { dtype: type, rows: 7, cols: blockSize, bytes, label: 'w', chunkRows: 3 });
    expect(m.chunks.map((c) => [c.row0, c.rows, gpu.pool.sizeOf(c.buffer) >= c.rows * gpuBlockBytes(type)])).toEqual([
      [0, 3, true],
      [3, 3, true],
      [6, 1, true],
    ]);
  });

  it('refuses rows that are not whole blocks, naming the matrix', async () => {
    const gpu = await testGpu();
    const cols = blockSize + 16;
    expect(() => uploadMatrix(gpu, { dtype: type, rows: 1, cols, bytes: new Uint8Array(2 * blockBytes), label: 'blk.3.ffn_down.weight' })).toThrow(
      new RegExp(`blk\\.3\\.ffn_down\\.weight: width ${cols} is not a multiple of ${blockSize}`),
    );
    expect(() => uploadMatrix(gpu, { dtype: type, rows: 2, cols: blockSize, bytes: new Uint8Array(blockBytes), label: 'w' })).toThrow(/w: .* bytes given/);
  });
});
