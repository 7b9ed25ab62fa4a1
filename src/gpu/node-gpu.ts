// Node only: WebGPU through Dawn (the `webgpu` package). Kept apart so browser bundles never load it.
//
// Dawn uses the system's Vulkan driver. When that offers no adapter (no driver, or Mesa too old for
// Dawn) and a Vulkan loader is there, this switches to the software SwiftShader ICD bundled with the
// @sparticuz/chromium devDependency: the loader reads VK_ICD_FILENAMES when Dawn creates its next
// instance. Without any loader that cannot work in-process (ld.so reads LD_LIBRARY_PATH at start);
// bin/tabtune.mjs and scripts/test.mjs set the environment for their child processes instead
// (scripts/webgpu-env.mjs).

import { createGpu, type Gpu, type GpuOptions } from './device.ts';
import { WebGpuUnavailableError } from './errors.ts';

/**
 * One Dawn instance per process, never released: when an instance is garbage-collected, Dawn tears
 * down state that devices of other instances still use, and the process aborts (a futex or mutex
 * assertion) at a random later point. A fallback replaces `instance`; the one it replaces stays in
 * `retired`, referenced for the life of the process.
 */
let instance: GPU | null = null;
const retired: GPU[] = [];
let dawnModule: typeof import('webgpu') | null = null;
/** Said once per process: the adapter is the bundled software one. */
let noted = false;

async function dawn(): Promise<GPU> {
  if (instance) return instance;
  try {
    dawnModule ??= await import('webgpu');
  } catch (e) {
    throw new WebGpuUnavailableError(`the "webgpu" package could not be loaded (${(e as Error).message}); run npm ci`);
  }
  // Dawn's GPUBufferUsage, GPUMapMode, ... must be globals, as in a browser.
  Object.assign(globalThis, dawnModule.globals);
  instance ??= dawnModule.create([]);
  return instance;
}

const INSTALL_HINT =
  "install a Vulkan driver (without a GPU: Mesa's lavapipe, mesa-vulkan-drivers from bookworm-backports on Debian 12), " +
  'or run npm ci in the tabtune folder for the software SwiftShader of its @sparticuz/chromium devDependency, ' +
  'which the tabtune CLI and npm test fall back to';

function note(why: string): void {
  if (noted) return;
  noted = true;
  console.error(`tabtune: using the software SwiftShader bundled with @sparticuz/chromium (${why}); a GPU driver or Mesa lavapipe is much faster`);
}

/** A second Dawn instance on the bundled SwiftShader ICD, when the system's driver gave no adapter. */
async function bundledFallback(): Promise<GPU | null> {
  if (!dawnModule || process.env.TABTUNE_WEBGPU_SOURCE === 'bundled') return null;
  const w = await import('../../scripts/webgpu-env.mjs');
  if (w.webgpuMode() === 'system' || !w.systemHasVulkanLoader()) return null;
  let dir: string;
  try {
    dir = w.bundledPart('swiftshader');
  } catch {
    return null; // not installed: the caller's error says what to install
  }
  const env = w.swiftshaderEnv(dir);
  // The system's loader is already loaded; only the ICD list matters to it.
  process.env.VK_ICD_FILENAMES = env.VK_ICD_FILENAMES;
  process.env.VK_DRIVER_FILES = env.VK_DRIVER_FILES;
  process.env.TABTUNE_WEBGPU_SOURCE = 'bundled';
  if (instance) retired.push(instance);
  instance = dawnModule.create([]);
  return instance;
}

export async function createNodeGpu(opts: GpuOptions = {}): Promise<Gpu> {
  const gpu = await dawn();
  try {
    const g = await createGpu(gpu, opts);
    if (process.env.TABTUNE_WEBGPU_REASON) note(process.env.TABTUNE_WEBGPU_REASON);
    return g;
  } catch (e) {
    if (!(e instanceof WebGpuUnavailableError)) throw e;
    const reason = e.message.replace(/^WebGPU is not available: /, '').split('. tabtune')[0];
    const fallback = await bundledFallback();
    if (fallback) {
      const g = await createGpu(fallback, opts).catch(() => null);
      if (g) {
        note("the system's Vulkan driver offered no adapter");
        return g;
      }
    }
    throw new WebGpuUnavailableError(`${reason}; ${INSTALL_HINT}`);
  }
}
