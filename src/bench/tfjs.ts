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

/** Loads TensorFlow.js and makes its WebGPU backend, running on `gpu.device`, the active one. */
export async function startTfjs(gpu: Gpu): Promise<TfjsPeer> {
  defineNavigatorGpu();
  const tf = (await import('@tensorflow/tfjs-core')) as Tf;
  const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as BackendModule & { default?: BackendModule };
  const { WebGPUBackend } = mod.WebGPUBackend ? mod : mod.default!;
  // Every product must run on the GPU, never be handed to a CPU backend.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  tf.removeBackend('webgpu');
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
