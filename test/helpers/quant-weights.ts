// Uploads a test weight matrix in one of ggml's block formats, quantized by ggml itself, and returns
// what the GPU should see: ggml's own dequantization, for the float64 CPU twins.

import type { Gpu } from '../../src/gpu/device.ts';
import { type GpuMatrix, uploadMatrix } from '../../src/kernels/weights.ts';
import type { QuantType } from '../../src/quant/ggml-types.ts';
import { ggmlDequantize, ggmlQuantize } from './ggml.ts';

export function testQuantMatrix(
  gpu: Gpu,
  type: QuantType,
  rows: number,
  cols: number,
  values: Float64Array,
  chunkRows?: number,
): { gpu: GpuMatrix; cpu: { rows: number; cols: number; data: Float64Array }; bytes: Uint8Array } {
  const bytes = ggmlQuantize(type, Float32Array.from(values), rows, cols);
  const m = uploadMatrix(gpu, { dtype: type, rows, cols, bytes, label: `test ${type}`, chunkRows });
  return { gpu: m, cpu: { rows, cols, data: Float64Array.from(ggmlDequantize(type, bytes, rows * cols)) }, bytes };
}
