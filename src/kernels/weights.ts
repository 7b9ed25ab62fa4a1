// Frozen weight matrices on the GPU, split into row chunks so that no chunk exceeds one storage
// binding (a 151936 x 896 embedding is 272 MB in f16; bindings are often 128 MiB). Stored as f32,
// f16 or bf16, or in one of ggml's block formats (Q4_0 .. Q6_K), which stay quantized on the GPU:
// the kernels dequantize as they read (shaders/weights_q*.wgsl), so no full-precision copy exists.
// Dimension key: N = rows (out_features or vocab), K = columns (in_features or hidden).

import type { Gpu } from '../gpu/device.ts';
import { DeviceLimitError } from '../gpu/errors.ts';
import { STORAGE } from '../gpu/recorder.ts';
import { gpuBlockBytes, repackForGpu } from '../quant/gpu-layout.ts';
import { isQuantType, type QuantType, typeInfo } from '../quant/ggml-types.ts';
import weightsF32 from '../../shaders/weights_f32.wgsl?raw';
import weightsF16 from '../../shaders/weights_f16.wgsl?raw';
import weightsF16Packed from '../../shaders/weights_f16_packed.wgsl?raw';
import weightsBf16 from '../../shaders/weights_bf16.wgsl?raw';
import weights8F32 from '../../shaders/weights8_f32.wgsl?raw';
import weights8F16 from '../../shaders/weights8_f16.wgsl?raw';
import weights8Bf16 from '../../shaders/weights8_bf16.wgsl?raw';
import weightsQ4_0 from '../../shaders/weights_q4_0.wgsl?raw';
import weightsQ4_1 from '../../shaders/weights_q4_1.wgsl?raw';
import weightsQ5_0 from '../../shaders/weights_q5_0.wgsl?raw';
import weightsQ5_1 from '../../shaders/weights_q5_1.wgsl?raw';
import weightsQ8_0 from '../../shaders/weights_q8_0.wgsl?raw';
import weightsQ2_K from '../../shaders/weights_q2_k.wgsl?raw';
import weightsQ3_K from '../../shaders/weights_q3_k.wgsl?raw';
import weightsQ4_K from '../../shaders/weights_q4_k.wgsl?raw';
import weightsQ5_K from '../../shaders/weights_q5_k.wgsl?raw';
import weightsQ6_K from '../../shaders/weights_q6_k.wgsl?raw';
import weightsQuant from '../../shaders/weights_quant.wgsl?raw';

export type FloatWeightDtype = 'f32' | 'f16' | 'bf16';
/** f32/f16/bf16, or a ggml block format by its uppercase name. */
export type WeightDtype = FloatWeightDtype | QuantType;

/**
 * GPU bytes per weight. Exact for whole rows of a block format too: its blocks hold 32 or 256
 * weights, so the ratio is a binary fraction (Q4_K: 148 / 256 = 0.578125).
 */
export const WEIGHT_BYTES: Record<WeightDtype, number> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  Q4_0: quantBytesPerWeight('Q4_0'),
  Q4_1: quantBytesPerWeight('Q4_1'),
  Q5_0: quantBytesPerWeight('Q5_0'),
  Q5_1: quantBytesPerWeight('Q5_1'),
  Q8_0: quantBytesPerWeight('Q8_0'),
  Q2_K: quantBytesPerWeight('Q2_K'),
  Q3_K: quantBytesPerWeight('Q3_K'),
  Q4_K: quantBytesPerWeight('Q4_K'),
  Q5_K: quantBytesPerWeight('Q5_K'),
  Q6_K: quantBytesPerWeight('Q6_K'),
};

function quantBytesPerWeight(t: QuantType): number {
  return gpuBlockBytes(t) / typeInfo(t).blockSize;
}

export function isQuantDtype(d: WeightDtype): d is QuantType {
  return isQuantType(d);
}

/** Weights per block: 1 for the float dtypes. */
export function blockSizeOf(d: WeightDtype): number {
  return isQuantDtype(d) ? typeInfo(d).blockSize : 1;
}

/** Bytes a [rows, cols] matrix occupies on the GPU (quant blocks repacked to whole words), for memory planning. */
export function matrixBytes(dtype: WeightDtype, rows: number, cols: number): number {
  const bs = blockSizeOf(dtype);
  if (cols % bs !== 0) throw new Error(`a row of ${cols} weights is not a whole number of ${dtype} blocks (${bs} weights each)`);
  return rows * (isQuantDtype(dtype) ? (cols / bs) * gpuBlockBytes(dtype) : cols * WEIGHT_BYTES[dtype]);
}

/** Bytes of one row as uploadMatrix takes it: ggml's own blocks for a quant dtype. */
function sourceRowBytes(dtype: WeightDtype, cols: number): number {
  return isQuantDtype(dtype) ? (cols / typeInfo(dtype).blockSize) * typeInfo(dtype).blockBytes : cols * WEIGHT_BYTES[dtype];
}

export interface WeightChunk {
  buffer: GPUBuffer;
  /** First row of the matrix held by this chunk. */
  row0: number;
  rows: number;
}

/** W: [N, K] row-major, K % 4 == 0 (a multiple of the block size for a quant dtype). */
export interface GpuMatrix {
  dtype: WeightDtype;
  rows: number; // N
  cols: number; // K
  chunks: WeightChunk[];
}

// Each format's wq_scale / wq_apply, then load_w4 / load_w8 / wq_load8 built from them.
const QUANT_READERS = Object.fromEntries(
  (
    [
      ['Q4_0', weightsQ4_0],
      ['Q4_1', weightsQ4_1],
      ['Q5_0', weightsQ5_0],
      ['Q5_1', weightsQ5_1],
      ['Q8_0', weightsQ8_0],
      ['Q2_K', weightsQ2_K],
      ['Q3_K', weightsQ3_K],
      ['Q4_K', weightsQ4_K],
      ['Q5_K', weightsQ5_K],
      ['Q6_K', weightsQ6_K],
    ] as const
  ).map(([t, part]) => [t, `${part}\n${weightsQuant}`]),
) as Record<QuantType, string>;

/**
 * The WGSL that defines `load_w4` for this dtype on this device, and whether it needs `enable f16`.
 * `packedF16`: read f16 as u32 pairs even where shader-f16 could load them (faster on some devices).
 * A quant reader also defines load_w8, and wq_scale / wq_apply / wq_load8 by block (weights_q4_k.wgsl).
 */
export function weightReader(gpu: Gpu, dtype: WeightDtype, packedF16 = false): { part: string; f16: boolean } {
  if (isQuantDtype(dtype)) return { part: QUANT_READERS[dtype], f16: false };
  if (dtype === 'f32') return { part: weightsF32, f16: false };
  if (dtype === 'bf16') return { part: weightsBf16, f16: false };
  return gpu.f16 && !packedF16 ? { part: weightsF16, f16: true } : { part: weightsF16Packed, f16: false };
}

/** The WGSL that defines `load_w8` (8 consecutive values as two vec4, K % 8 == 0) for this dtype. */
export const WEIGHT_READER_8: Record<WeightDtype, string> = { f32: weights8F32, f16: weights8F16, bf16: weights8Bf16, ...QUANT_READERS };

export function maxRowsPerChunk(gpu: Gpu, dtype: WeightDtype, cols: number): number {
  return Math.floor(gpu.limits.maxStorageBufferBindingSize / matrixBytes(dtype, 1, cols));
}

/**
 * Uploads a matrix whose bytes are already in `dtype` (little-endian floats, or ggml's own block
 * bytes for a quant dtype), split into chunks of at most `chunkRows` rows (default: as many as one
 * binding holds). Quant blocks are repacked chunk by chunk (src/quant/gpu-layout.ts).
 */
export function uploadMatrix(
  gpu: Gpu,
  m: { dtype: WeightDtype; rows: number; cols: number; bytes: Uint8Array; label: string; chunkRows?: number },
): GpuMatrix {
  const bs = blockSizeOf(m.dtype);
  if (bs > 1 && m.cols % bs !== 0) throw new Error(`${m.label}: width ${m.cols} is not a multiple of ${bs}, the ${m.dtype} block size`);
  if (m.cols % 4 !== 0) throw new Error(`${m.label}: width ${m.cols} is not a multiple of 4, which the kernels need`);
  const srcRow = sourceRowBytes(m.dtype, m.cols);
  if (m.bytes.byteLength !== m.rows * srcRow) {
    throw new Error(`${m.label}: ${m.bytes.byteLength} bytes given, [${m.rows}, ${m.cols}] ${m.dtype} needs ${m.rows * srcRow}`);
  }
  const gpuRow = matrixBytes(m.dtype, 1, m.cols);
  const limitRows = maxRowsPerChunk(gpu, m.dtype, m.cols);
  if (limitRows < 1) throw new DeviceLimitError(gpuRow, gpu.limits.maxStorageBufferBindingSize, `one row of ${m.label}`);
  const chunkRows = Math.min(m.chunkRows ?? limitRows, limitRows);
  const chunks: WeightChunk[] = [];
  for (let row0 = 0; row0 < m.rows; row0 += chunkRows) {
    const rows = Math.min(chunkRows, m.rows - row0);
    const src = m.bytes.subarray(row0 * srcRow, (row0 + rows) * srcRow);
    const packed = isQuantDtype(m.dtype) ? repackForGpu(m.dtype, src, rows, m.cols) : src;
    // A block format that needs no repacking comes back as `src` itself: copied like float rows.
    const data = packed === src ? src.slice() : (packed as Uint8Array<ArrayBuffer>);
    const buffer = gpu.pool.acquire(rows * gpuRow, STORAGE, `${m.label}[${row0}:${row0 + rows}]`);
    gpu.device.queue.writeBuffer(buffer, 0, data);
    chunks.push({ buffer, row0, rows });
  }
  return { dtype: m.dtype, rows: m.rows, cols: m.cols, chunks };
}

export function destroyMatrix(gpu: Gpu, m: GpuMatrix): void {
  for (const c of m.chunks) gpu.pool.destroy(c.buffer);
  m.chunks = [];
}
