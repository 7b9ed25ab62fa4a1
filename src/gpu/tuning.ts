// Kernel work layouts chosen per device. A GPU has many threads and few registers each: one row per
// invocation and large workgroups. A CPU running WebGPU through a software driver (llvmpipe,
// SwiftShader) runs 8 invocations per SIMD step, pays for every storage load lane by lane and has
// registers to spare: each invocation should reuse what it loads across several rows.

import type { AdapterSummary } from './device.ts';

export interface KernelTuning {
  /**
   * Attention: invocations per workgroup, and consecutive rows each invocation owns in the forward
   * (query rows), the dQ pass (query rows) and the dK/dV pass (key slots).
   */
  attention: { tile: number; forwardRows: number; dqRows: number; dkvRows: number };
}

/** llvmpipe / lavapipe, SwiftShader, or an adapter that says it is a CPU. */
export function isSoftwareAdapter(a: AdapterSummary): boolean {
  return a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${a.description} ${a.device}`);
}

export function defaultTuning(a: AdapterSummary): KernelTuning {
  return isSoftwareAdapter(a)
    ? { attention: { tile: 8, forwardRows: 2, dqRows: 2, dkvRows: 2 } }
    : { attention: { tile: 64, forwardRows: 1, dqRows: 1, dkvRows: 1 } };
}
