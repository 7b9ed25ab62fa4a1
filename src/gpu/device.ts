// One GPUDevice for the engine, from navigator.gpu in a browser or Dawn in Node (see node-gpu.ts).
// Requests the adapter's real limits: the defaults (256 MiB buffers, 128 MiB bindings) are too
// small for real checkpoints.

import { BufferPool } from './buffer-pool.ts';
import { WebGpuUnavailableError } from './errors.ts';
import { PipelineCache } from './pipelines.ts';
import { defaultTuning, type KernelTuning } from './tuning.ts';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface GpuOptions {
  /** Use `shader-f16` when the adapter offers it (default true). */
  allowF16?: boolean;
  powerPreference?: GPUPowerPreference;
}

export interface Gpu {
  device: GPUDevice;
  adapter: AdapterSummary;
  /** `shader-f16` is enabled on the device. */
  f16: boolean;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxStorageBuffersPerShaderStage: number;
    maxComputeWorkgroupsPerDimension: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
  pool: BufferPool;
  pipelines: PipelineCache;
  /** Work layouts of the kernels on this device (see tuning.ts); kernels read it when they record. */
  tuning: KernelTuning;
  /** Rejects with the first validation or out-of-memory error the device reported, if any. */
  checkErrors(): void;
  /** Why the device was lost (driver reset, GPU removed, ...), or null while it works; our own destroy() is no loss. */
  readonly lostReason: string | null;
  destroy(): void;
}

/** adapter.info fields are getters (JSON.stringify shows none), so copy them out. */
function summarize(info: GPUAdapterInfo | undefined): AdapterSummary {
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
  };
}

export function describeAdapter(a: AdapterSummary): string {
  return [a.vendor, a.architecture, a.description || a.device].filter(Boolean).join(' | ');
}

export async function createGpu(gpu: GPU | undefined, opts: GpuOptions = {}): Promise<Gpu> {
  if (!gpu) throw new WebGpuUnavailableError('navigator.gpu is missing');
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new WebGpuUnavailableError('no GPU adapter was found (requestAdapter returned null)');
  const al = adapter.limits;
  const f16 = (opts.allowF16 ?? true) && adapter.features.has('shader-f16');
  const requiredLimits = {
    maxBufferSize: al.maxBufferSize,
    maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
    maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupsPerDimension: al.maxComputeWorkgroupsPerDimension,
  };
  const device = await adapter.requestDevice({
    requiredFeatures: f16 ? ['shader-f16'] : [],
    requiredLimits,
  });
  let firstError: string | null = null;
  device.addEventListener('uncapturederror', (ev) => {
    const msg = (ev as GPUUncapturedErrorEvent).error.message;
    firstError ??= msg;
  });
  let lostReason: string | null = null;
  let destroying = false;
  void device.lost.then((info) => {
    if (!destroying) lostReason = info.message || info.reason || 'unknown reason';
  });
  const dl = device.limits;
  const limits = {
    maxBufferSize: dl.maxBufferSize,
    maxStorageBufferBindingSize: dl.maxStorageBufferBindingSize,
    maxStorageBuffersPerShaderStage: dl.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupsPerDimension: dl.maxComputeWorkgroupsPerDimension,
    maxComputeWorkgroupStorageSize: dl.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: dl.maxComputeInvocationsPerWorkgroup,
  };
  const summary = summarize(adapter.info);
  return {
    device,
    adapter: summary,
    f16,
    limits,
    pool: new BufferPool(device, dl.maxBufferSize),
    pipelines: new PipelineCache(device, f16),
    tuning: defaultTuning(summary),
    checkErrors() {
      if (firstError !== null) {
        const msg = firstError;
        firstError = null;
        throw new Error(`GPU error: ${msg}`);
      }
    },
    get lostReason() {
      return lostReason;
    },
    destroy() {
      destroying = true;
      device.destroy();
    },
  };
}
