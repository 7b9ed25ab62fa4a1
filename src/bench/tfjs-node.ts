// TensorFlow.js for `tabtune bench` in Node (see tfjs.ts). It needs node:module, so only the CLI
// imports it; the app's engine worker loads TensorFlow.js through tfjs-browser.ts instead.

import { register } from 'node:module';
import type { Tf, TfjsLoader, WebGpuBackendModule } from './tfjs.ts';

function defineNavigatorGpu(): void {
  // The backend only checks that navigator.gpu exists; it never asks it for an adapter here
  // because the backend is built from the engine's device (startTfjs).
  const shim = {
    requestAdapter() {
      return Promise.reject(new Error('tabtune bench gives TensorFlow.js the engine\'s GPUDevice; it does not open adapters'));
    },
  };
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu: shim }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: shim, configurable: true });
}

// The gradient functions exist only as tfjs-core's ES module files, whose relative imports have no
// extension (written for bundlers), so in Node a resolve hook adds it, for those files only. The
// registry they fill is tfjs-core's global one, shared with the CommonJS build that
// `import '@tensorflow/tfjs-core'` loads in Node.
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

export const nodeTfjs: TfjsLoader = {
  async core() {
    defineNavigatorGpu();
    return (await import('@tensorflow/tfjs-core')) as Tf;
  },
  async backend() {
    defineNavigatorGpu();
    // Node's CommonJS interop may put the exports under `default`.
    const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as WebGpuBackendModule & { default?: WebGpuBackendModule };
    return mod.WebGPUBackend ? mod : mod.default!;
  },
  gradients() {
    gradients ??= (async () => {
      register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`);
      return import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    })();
    return gradients;
  },
};
