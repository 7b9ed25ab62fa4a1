// LoRA factors on the GPU, applied unmerged: y += scaling * (x A^T) B^T.
// Dimension key: r = rank, r4 = r rounded up to a multiple of 4 (the matmul reads K in vec4s; the
// padding rows of A and columns of B are zero, so they add nothing), in/out = the layer's features.
// a: [r4, in] f32   b: [out, r4] f32

import type { Gpu } from '../gpu/device.ts';
import { readF32 } from '../gpu/recorder.ts';
import { destroyMatrix, type GpuMatrix, uploadMatrix } from '../kernels/weights.ts';
import type { LoraWeights } from './adapter.ts';

export interface GpuLoraModule {
  a: GpuMatrix;
  b: GpuMatrix;
  scaling: number;
}

export interface GpuLora {
  modules: Map<string, GpuLoraModule>;
}

export function padRank(r: number): number {
  return Math.ceil(r / 4) * 4;
}

export function uploadLora(gpu: Gpu, lora: LoraWeights): GpuLora {
  const modules = new Map<string, GpuLoraModule>();
  for (const [name, m] of lora.modules) {
    const r4 = padRank(m.rank);
    const a = new Float32Array(r4 * m.inFeatures);
    a.set(m.a); // rows r..r4 stay zero
    const b = new Float32Array(m.outFeatures * r4);
    for (let o = 0; o < m.outFeatures; o++) b.set(m.b.subarray(o * m.rank, (o + 1) * m.rank), o * r4);
    modules.set(name, {
      a: uploadMatrix(gpu, { dtype: 'f32', rows: r4, cols: m.inFeatures, bytes: new Uint8Array(a.buffer), label: `${name}.lora_A` }),
      b: uploadMatrix(gpu, { dtype: 'f32', rows: m.outFeatures, cols: r4, bytes: new Uint8Array(b.buffer), label: `${name}.lora_B` }),
      scaling: m.scaling,
    });
  }
  return { modules };
}

export function destroyLora(gpu: Gpu, lora: GpuLora): void {
  for (const m of lora.modules.values()) {
    destroyMatrix(gpu, m.a);
    destroyMatrix(gpu, m.b);
  }
  lora.modules.clear();
}

/** Reads a padded pair back as a: [r, in] and b: [out, r] (values or gradients alike). */
export async function readUnpadded(
  gpu: Gpu,
  a: GPUBuffer,
  b: GPUBuffer,
  s: { rank: number; inFeatures: number; outFeatures: number },
): Promise<{ a: Float32Array; b: Float32Array }> {
  const r4 = padRank(s.rank);
  const aOut = (await readF32(gpu, a, 0, r4 * s.inFeatures)).slice(0, s.rank * s.inFeatures);
  const bPadded = await readF32(gpu, b, 0, s.outFeatures * r4);
  const bOut = new Float32Array(s.outFeatures * s.rank);
  for (let o = 0; o < s.outFeatures; o++) bOut.set(bPadded.subarray(o * r4, o * r4 + s.rank), o * s.rank);
  return { a: aOut, b: bOut };
}
