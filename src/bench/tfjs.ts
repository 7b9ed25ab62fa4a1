// TensorFlow.js's WebGPU backend as the peer our kernels are measured against: same adapter, same
// GPUDevice, same process. node-gpu.ts keeps the one Dawn instance of the process to itself (a
// second instance can abort the process), so TensorFlow.js is handed the engine's own device
// instead of an adapter: its kernels then run on exactly the device ours run on.
// Both packages are devDependencies; without them the bench reports TensorFlow.js as unavailable.

import type * as TfCore from '@tensorflow/tfjs-core';
import type { Gpu } from '../gpu/device.ts';

export type Tf = typeof TfCore;

export interface TfjsPeer {
  tf: Tf;
  /** "tfjs-core 4.22.0 (webgpu backend)" */
  version: string;
  dispose(): void;
}

type BackendModule = { WebGPUBackend: new (device: GPUDevice, info?: { vendor: string; architecture: string }) => TfCore.KernelBackend };

function defineNavigatorGpu(): void {
  // The backend only checks that navigator.gpu exists; it never asks it for an adapter here
  // because the backend is built below from the engine's device.
  const shim = {
    requestAdapter() {
      return Promise.reject(new Error('tabtune bench gives TensorFlow.js the engine\'s GPUDevice; it does not open adapters'));
    },
  };
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu: shim }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: shim, configurable: true });
}

// tfjs-core alone registers no gradient functions (the @tensorflow/tfjs union package imports
// them); the train scenario's autodiff needs them. They exist only as tfjs-core's ES module files,
// whose relative imports have no extension (written for bundlers), so in Node a resolve hook adds
// it, for those files only. The registry they fill is tfjs-core's global one, shared with the
// CommonJS build that `import '@tensorflow/tfjs-core'` loads in Node.
const RESOLVE_HOOK = `
import { existsSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent && parent.includes('/@tensorflow/tfjs-core/dist/') && specifier.startsWith('.') && !/\\.[cm]?js$/.test(specifier)) {
    for (const c of [specifier + '.js', specifier + '/index.js']) if (existsSync(new URL(c, parent))) return next(c, context);
  }
  return next(specifier, context);
}`;

let gradients: Promise<unknown> | null = null;

/** Registers tfjs-core's gradient functions (once); the train scenario's peer calls it, matmul needs none. */
export function registerTfjsGradients(): Promise<unknown> {
  gradients ??= (async () => {
    const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
    if (proc?.versions?.node) {
      const { register } = await import('node:module');
      register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`);
    }
    return import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  })();
  return gradients;
}

/** Loads TensorFlow.js and makes its WebGPU backend, running on `gpu.device`, the active one. */
export async function startTfjs(gpu: Gpu): Promise<TfjsPeer> {
  defineNavigatorGpu();
  const tf = (await import('@tensorflow/tfjs-core')) as Tf;
  const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as BackendModule & { default?: BackendModule };
  const { WebGPUBackend } = mod.WebGPUBackend ? mod : mod.default!;
  // Every product must run on the GPU, never be handed to a CPU backend.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  // Started again for a later scenario, the previous peer's backend is already removed.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(gpu.device, { vendor: gpu.adapter.vendor, architecture: gpu.adapter.architecture }));
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js could not start its WebGPU backend');
  await tf.ready();
  return {
    tf,
    version: `tfjs-core ${tf.version_core} (webgpu backend)`,
    dispose() {
      // Frees the backend's buffers; the device stays the engine's.
      tf.disposeVariables();
      tf.removeBackend('webgpu');
    },
  };
}
