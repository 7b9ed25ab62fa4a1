// Uploads a test weight matrix in a given dtype and returns what the GPU sees, for the CPU twin.

import type { Gpu } from '../../src/gpu/device.ts';
import { fromFloat32, toFloat32 } from '../../src/formats/dtype.ts';
import { type GpuMatrix, isQuantDtype, uploadMatrix, type WeightDtype } from '../../src/kernels/weights.ts';

const ST = { f32: 'F32', f16: 'F16', bf16: 'BF16' } as const;

export function testMatrix(
  gpu: Gpu,
  dtype: WeightDtype,
  rows: number,
  cols: number,
  values: Float64Array,
  chunkRows?: number,
): { gpu: GpuMatrix; cpu: { rows: number; cols: number; data: Float64Array } } {
  // Block formats need ggml's quantizer as the reference: test/helpers/quant-weights.ts.
  if (isQuantDtype(dtype)) throw new Error(`testMatrix: ${dtype} is a block format; use testQuantMatrix`);
  const bytes = fromFloat32(ST[dtype], values);
  const m = uploadMatrix(gpu, { dtype, rows, cols, bytes, label: 'test', chunkRows });
  return { gpu: m, cpu: { rows, cols, data: Float64Array.from(toFloat32(ST[dtype], bytes)) } };
}
