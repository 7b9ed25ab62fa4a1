// The attention work layouts every attention kernel test runs: the GPU one (64 invocations, one row
// each), the software one, and an odd one whose rows per invocation divide neither T nor S.

import type { Gpu } from '../../src/gpu/device.ts';
import type { KernelTuning } from '../../src/gpu/tuning.ts';

const WORK_LAYOUTS: KernelTuning['attention'][] = [
  { tile: 64, forwardRows: 1, dqRows: 1, dkvRows: 1 },
  { tile: 8, forwardRows: 2, dqRows: 2, dkvRows: 2 },
  { tile: 4, forwardRows: 3, dqRows: 3, dkvRows: 3 },
];

/** Each shape under each layout, with 6 query heads on 2 kv heads of 12. */
export function layoutCases<S extends object>(shapes: S[]) {
  return WORK_LAYOUTS.flatMap((w) => shapes.map((s) => ({ ...s, nH: 6, nKV: 2, D: 12, w, layout: `${w.tile}x${w.forwardRows}` })));
}

/** Runs `run` with the device's attention layout set to `w`, then restores it. */
export async function withAttentionLayout<T>(gpu: Gpu, w: KernelTuning['attention'], run: () => Promise<T>): Promise<T> {
  const saved = gpu.tuning.attention;
  gpu.tuning.attention = w;
  try {
    return await run();
  } finally {
    gpu.tuning.attention = saved;
  }
}
