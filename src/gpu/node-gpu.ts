// Node only: WebGPU through Dawn (the `webgpu` package). Kept apart so browser bundles never load it.

import { createGpu, type Gpu, type GpuOptions } from './device.ts';
import { WebGpuUnavailableError } from './errors.ts';

/**
 * One Dawn instance per process, never released: when an instance is garbage-collected, Dawn tears
 * down state that devices of other instances still use, and the process aborts (a futex or mutex
 * assertion) at a random later point.
 */
let instance: GPU | null = null;

async function dawn(): Promise<GPU> {
  if (instance) return instance;
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    throw new WebGpuUnavailableError(`the "webgpu" package could not be loaded (${(e as Error).message}); run npm ci`);
  }
  // Dawn's GPUBufferUsage, GPUMapMode, ... must be globals, as in a browser.
  Object.assign(globalThis, mod.globals);
  instance ??= mod.create([]);
  return instance;
}

export async function createNodeGpu(opts: GpuOptions = {}): Promise<Gpu> {
  const gpu = await dawn();
  return createGpu(gpu, opts).catch((e: unknown) => {
    if (e instanceof WebGpuUnavailableError) {
      throw new WebGpuUnavailableError(
        `${e.message.replace(/^WebGPU is not available: /, '').split('. tabtune')[0]}; on Linux without a GPU install ` +
          `Mesa's Vulkan driver (mesa-vulkan-drivers from bookworm-backports on Debian 12)`,
      );
    }
    throw e;
  });
}
