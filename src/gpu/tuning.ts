// Kernel work layouts chosen per device. A GPU has many threads and few registers each: one row per
// invocation and large workgroups. A CPU running WebGPU through a software driver (llvmpipe,
// SwiftShader) runs 8 invocations per SIMD step, pays for every storage load lane by lane and has
// registers to spare: each invocation should reuse what it loads across several rows.
// These are the starting values; src/kernels/autotune.ts times the matmul candidates on the device
// at start-up and replaces them with the fastest.

import type { AdapterSummary } from './device.ts';

export interface MatmulTuning {
  /**
   * Y = X W^T: columns of Y per invocation (4 or 8; always 4 rows), workgroup shape (x along N, y along
   * M), and whether f16 weights are read as packed u32 pairs (unpack2x16float) even where shader-f16
   * could load them natively.
   */
  forward: { cols: number; wgX: number; wgY: number; f16Packed: boolean };
  /** dX = dY W when K % 8 == 0: rows of dX per invocation (each 8 columns wide) and workgroup shape, x along K. */
  inputGrad: { rows: number; wgX: number; wgY: number };
}

export interface KernelTuning {
  /**
   * Attention: invocations per workgroup, and consecutive rows each invocation owns in the forward
   * (query rows), the dQ pass (query rows) and the dK/dV pass (key slots).
   */
  attention: { tile: number; forwardRows: number; dqRows: number; dkvRows: number };
  matmul: MatmulTuning;
  /** 'default': the values below by adapter type; 'measured': matmul layouts timed on this device. */
  source: 'default' | 'measured';
}

/** llvmpipe / lavapipe, SwiftShader, or an adapter that says it is a CPU. */
export function isSoftwareAdapter(a: AdapterSummary): boolean {
  return a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${a.description} ${a.device}`);
}

export function defaultTuning(a: AdapterSummary): KernelTuning {
  return isSoftwareAdapter(a)
    ? {
        attention: { tile: 8, forwardRows: 2, dqRows: 2, dkvRows: 2 },
        matmul: { forward: { cols: 8, wgX: 8, wgY: 8, f16Packed: true }, inputGrad: { rows: 4, wgX: 16, wgY: 4 } },
        source: 'default',
      }
    : {
        attention: { tile: 64, forwardRows: 1, dqRows: 1, dkvRows: 1 },
        matmul: { forward: { cols: 4, wgX: 8, wgY: 8, f16Packed: false }, inputGrad: { rows: 2, wgX: 32, wgY: 4 } },
        source: 'default',
      };
}

/** A layout for people, e.g. "4x8 blocks, workgroup 8x8, f16 packed" or "4 rows, workgroup 16x4". */
export function layoutName(l: MatmulTuning['forward'] | MatmulTuning['inputGrad']): string {
  return 'rows' in l ? `${l.rows} rows, workgroup ${l.wgX}x${l.wgY}` : `4x${l.cols} blocks, workgroup ${l.wgX}x${l.wgY}, f16 ${l.f16Packed ? 'packed' : 'native'}`;
}
