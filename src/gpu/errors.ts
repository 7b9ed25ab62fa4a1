// Errors about the GPU itself: no WebGPU, no adapter, or a model/plan that does not fit the device.

import { formatBytes } from '../util/format.ts';

export class WebGpuUnavailableError extends Error {
  constructor(detail: string) {
    super(
      `WebGPU is not available: ${detail}. tabtune needs WebGPU: Chrome or Edge 113+, Safari 26+, ` +
        `Firefox 141+ on Windows; in Node the "webgpu" package with a Vulkan driver (Mesa lavapipe works without a GPU).`,
    );
    this.name = 'WebGpuUnavailableError';
  }
}

/** Raised before any allocation when a buffer or plan exceeds what the device offers. */
export class DeviceLimitError extends Error {
  constructor(
    readonly neededBytes: number,
    readonly availableBytes: number,
    what: string,
  ) {
    super(
      `${what} needs ${formatBytes(neededBytes)}, but the device offers ${formatBytes(availableBytes)}. ` +
        `Use a smaller model, shorter sequences or a smaller batch.`,
    );
    this.name = 'DeviceLimitError';
  }
}

/** The GPU device went away mid-work (driver reset, GPU removed or reclaimed by the browser). */
export class DeviceLostError extends Error {
  constructor(reason: string, detail: string) {
    super(`The GPU device was lost (${reason}). ${detail}`);
    this.name = 'DeviceLostError';
  }
}
