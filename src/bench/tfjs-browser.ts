// TensorFlow.js for the bench in the app's engine worker (see tfjs.ts). Only dynamic imports, so
// Vite puts TensorFlow.js in chunks of its own, fetched when a user runs the bench rather than
// with the app. The worker's navigator.gpu satisfies the backend's WebGPU check; the backend itself
// is built on the engine's device, so no second adapter or device is opened.

import type { TfjsLoader, WebGpuBackendModule } from './tfjs.ts';

let gradients: Promise<unknown> | null = null;

export const browserTfjs: TfjsLoader = {
  core: () => import('@tensorflow/tfjs-core'),
  backend: async () => (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as WebGpuBackendModule,
  // Bundlers resolve tfjs-core's extensionless relative imports, and the bundle shares the one
  // tfjs-core instance the core chunk holds, so the gradients land in the registry `core` uses.
  gradients: () => (gradients ??= import('@tensorflow/tfjs-core/dist/register_all_gradients.js')),
};
