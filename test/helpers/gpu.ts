// Real WebGPU for tests (Dawn + the machine's Vulkan driver). No adapter is a failure, never a skip.

import { afterAll } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';

const gpus = new Map<string, Promise<Gpu>>();

/**
 * One device per variant per test file: with shader-f16 (when offered) and without it.
 * Destroyed after the file: Dawn aborts the process if it exits with a live device.
 */
export function testGpu(variant: 'f16' | 'nof16' = 'f16'): Promise<Gpu> {
  let g = gpus.get(variant);
  if (!g) {
    g = createNodeGpu({ allowF16: variant === 'f16' });
    gpus.set(variant, g);
  }
  return g;
}

afterAll(async () => {
  for (const g of gpus.values()) (await g).destroy();
  gpus.clear();
});
