// TensorFlow.js's WebGPU backend as the peer our kernels are measured against: same adapter, same
// GPUDevice, same process. node-gpu.ts keeps the one Dawn instance of the process to itself (a
// second instance can abort the process), so TensorFlow.js is handed the engine's own device
// instead of an adapter: its kernels then run on exactly the device ours run on. In the app's
// engine worker the same holds for the worker's device: a second device there would compete with
// ours for the GPU's memory and measure a different queue.
// Node and the browser load the packages differently (tfjs-node.ts for the CLI, tfjs-browser.ts for
// the worker); this file imports neither, so that no browser bundle reaches the Node loader's
// node: modules.
// Both packages are devDependencies; without them the bench reports TensorFlow.js as unavailable.

import type * as TfCore from '@tensorflow/tfjs-core';
import type { Gpu } from '../gpu/device.ts';

export type Tf = typeof TfCore;

export interface TfjsPeer {
  tf: Tf;
  /** "tfjs-core 4.22.0 (webgpu backend)" */
  version: string;
  /** Registers tfjs-core's gradient functions (once); the train scenario's peer calls it, matmul needs none. */
  registerGradients(): Promise<unknown>;
  dispose(): void;
}

export type WebGpuBackendModule = { WebGPUBackend: new (device: GPUDevice, info?: { vendor: string; architecture: string }) => TfCore.KernelBackend };

/** Where this runtime gets the TensorFlow.js modules from. */
export interface TfjsLoader {
  core(): Promise<Tf>;
  backend(): Promise<WebGpuBackendModule>;
  /** tfjs-core alone registers no gradient functions (the @tensorflow/tfjs union package imports them). */
  gradients(): Promise<unknown>;
}

/** Loads TensorFlow.js and makes its WebGPU backend, running on `gpu.device`, the active one. */
export async function startTfjs(gpu: Gpu, loader: TfjsLoader): Promise<TfjsPeer> {
  const tf = await loader.core();
  const { WebGPUBackend } = await loader.backend();
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
    registerGradients: () => loader.gradients(),
    dispose() {
      // Frees the backend's buffers; the device stays the engine's.
      tf.disposeVariables();
      tf.removeBackend('webgpu');
    },
  };
}
