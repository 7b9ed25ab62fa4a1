// Frozen weight matrices on the GPU: f32, f16 or bf16, split into row chunks so that no chunk
// exceeds one storage binding (a 151936 x 896 embedding is 272 MB in f16; bindings are often 128 MiB).
// Dimension key: N = rows (out_features or vocab), K = columns (in_features or hidden).

import type { Gpu } from '../gpu/device.ts';
import { DeviceLimitError } from '../gpu/errors.ts';
import { STORAGE } from '../gpu/recorder.ts';
import weightsF32 from '../../shaders/weights_f32.wgsl?raw';
import weightsF16 from '../../shaders/weights_f16.wgsl?raw';
import weightsF16Packed from '../../shaders/weights_f16_packed.wgsl?raw';
import weightsBf16 from '../../shaders/weights_bf16.wgsl?raw';
import weights8F32 from '../../shaders/weights8_f32.wgsl?raw';
import weights8F16 from '../../shaders/weights8_f16.wgsl?raw';
import weights8Bf16 from '../../shaders/weights8_bf16.wgsl?raw';

export type WeightDtype = 'f32' | 'f16' | 'bf16';

export const WEIGHT_BYTES: Record<WeightDtype, number> = { f32: 4, f16: 2, bf16: 2 };

export interface WeightChunk {
  buffer: GPUBuffer;
  /** First row of the matrix held by this chunk. */
  row0: number;
  rows: number;
}

/** W: [N, K] row-major, K % 4 == 0. */
export interface GpuMatrix {
  dtype: WeightDtype;
  rows: number; // N
  cols: number; // K
  chunks: WeightChunk[];
}

/**
 * The WGSL that defines `load_w4` for this dtype on this device, and whether it needs `enable f16`.
 * `packedF16`: read f16 as u32 pairs even where shader-f16 could load them (faster on some devices).
 */
export function weightReader(gpu: Gpu, dtype: WeightDtype, packedF16 = false): { part: string; f16: boolean } {
  if (dtype === 'f32') return { part: weightsF32, f16: false };
  if (dtype === 'bf16') return { part: weightsBf16, f16: false };
  return gpu.f16 && !packedF16 ? { part: weightsF16, f16: true } : { part: weightsF16Packed, f16: false };
}

/** The WGSL that defines `load_w8` (8 consecutive values as two vec4, K % 8 == 0) for this dtype. */
export const WEIGHT_READER_8: Record<WeightDtype, string> = { f32: weights8F32, f16: weights8F16, bf16: weights8Bf16 };

export function maxRowsPerChunk(gpu: Gpu, dtype: WeightDtype, cols: number): number {
  return Math.floor(gpu.limits.maxStorageBufferBindingSize / (cols * WEIGHT_BYTES[dtype]));
}

/**
 * Uploads a matrix whose bytes are already in `dtype` (little-endian), split into chunks of at most
 * `chunkRows` rows (default: as many as one binding holds).
 */
export function uploadMatrix(
  gpu: Gpu,
  m: { dtype: WeightDtype; rows: number; cols: number; bytes: Uint8Array; label: string; chunkRows?: number },
): GpuMatrix {
  if (m.cols % 4 !== 0) throw new Error(`${m.label}: width ${m.cols} is not a multiple of 4, which the kernels need`);
  const rowBytes = m.cols * WEIGHT_BYTES[m.dtype];
  if (m.bytes.byteLength !== m.rows * rowBytes) {
    throw new Error(`${m.label}: ${m.bytes.byteLength} bytes given, [${m.rows}, ${m.cols}] ${m.dtype} needs ${m.rows * rowBytes}`);
  }
  const limitRows = maxRowsPerChunk(gpu, m.dtype, m.cols);
  if (limitRows < 1) throw new DeviceLimitError(rowBytes, gpu.limits.maxStorageBufferBindingSize, `one row of ${m.label}`);
  const chunkRows = Math.min(m.chunkRows ?? limitRows, limitRows);
  const chunks: WeightChunk[] = [];
  for (let row0 = 0; row0 < m.rows; row0 += chunkRows) {
    const rows = Math.min(chunkRows, m.rows - row0);
    const buffer = gpu.pool.acquire(rows * rowBytes, STORAGE, `${m.label}[${row0}:${row0 + rows}]`);
    gpu.device.queue.writeBuffer(buffer, 0, m.bytes.slice(row0 * rowBytes, (row0 + rows) * rowBytes));
    chunks.push({ buffer, row0, rows });
  }
  return { dtype: m.dtype, rows: m.rows, cols: m.cols, chunks };
}

export function destroyMatrix(gpu: Gpu, m: GpuMatrix): void {
  for (const c of m.chunks) gpu.pool.destroy(c.buffer);
  m.chunks = [];
}
