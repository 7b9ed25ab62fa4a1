// vitest globalSetup: names the WebGPU adapter the GPU tests will run on, once per run, and fails
// the whole run when there is none. GPU tests are never skipped: no adapter is an error.

import { describeAdapter } from '../../src/gpu/device.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';

export default async function announceAdapter(): Promise<void> {
  let gpu;
  try {
    gpu = await createNodeGpu();
  } catch (e) {
    const msg = (e as Error).message;
    console.error(`\nNo WebGPU adapter for the tests: ${msg}\n`);
    throw new Error(`No WebGPU adapter for the tests (the GPU tests are not skipped): ${msg}`, { cause: e });
  }
  try {
    console.log(
      `WebGPU adapter (Node, Dawn): ${describeAdapter(gpu.adapter)}, shader-f16: ${gpu.f16 ? 'yes' : 'no'}, ` +
        `maxStorageBufferBindingSize: ${gpu.limits.maxStorageBufferBindingSize}`,
    );
  } finally {
    gpu.destroy();
  }
}
