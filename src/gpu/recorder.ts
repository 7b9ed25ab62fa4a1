// Encodes a whole pass (many dispatches) into one command encoder and submits it once.
// Kernels record into it; sequencing lives in model/ and train/.
//
// Binding convention for every kernel: @binding(0) is the uniform params struct (when the
// kernel has one), storage buffers follow at 1, 2, ... in the order the kernel lists them.

import type { Gpu } from './device.ts';

export const STORAGE = 0x0080 | 0x0004 | 0x0008; // STORAGE | COPY_SRC | COPY_DST
const UNIFORM = 0x0040 | 0x0008; // UNIFORM | COPY_DST

export type Grid = [number, number, number];

export interface Binding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

/** A recorded dispatch, as a profiler sees it (see Recorder.onDispatch). */
export interface DispatchRecord {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  grid: Grid;
  /** The uniform buffer bound at 0 and its bytes (temps are reused: a replay must rewrite them). */
  params: { buffer: GPUBuffer; data: ArrayBuffer } | null;
}

export class Recorder {
  /** Profiling hook: called with every dispatch any recorder records (null = off). */
  static onDispatch: ((d: DispatchRecord) => void) | null = null;
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private temps: GPUBuffer[] = [];
  dispatches = 0;

  constructor(readonly gpu: Gpu) {
    this.encoder = gpu.device.createCommandEncoder();
  }

  /** Records one dispatch. `params` is the raw bytes of the kernel's uniform struct. */
  dispatch(pipeline: GPUComputePipeline, params: ArrayBuffer | null, storage: (GPUBuffer | Binding)[], grid: Grid): void {
    const entries: GPUBindGroupEntry[] = [];
    let at = 0;
    let u: GPUBuffer | null = null;
    if (params) {
      u = this.temp(params.byteLength, UNIFORM, 'params');
      this.gpu.device.queue.writeBuffer(u, 0, new Uint8Array(params));
      entries.push({ binding: at++, resource: { buffer: u, size: params.byteLength } });
    }
    for (const s of storage) {
      const b: Binding = 'buffer' in s ? s : { buffer: s };
      const offset = b.offset ?? 0;
      // A pooled buffer may be larger than asked for: bind only what was asked.
      entries.push({ binding: at++, resource: { buffer: b.buffer, offset, size: b.size ?? this.gpu.pool.sizeOf(b.buffer) - offset } });
    }
    const bindGroup = this.gpu.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.pass ??= this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.dispatches++;
    Recorder.onDispatch?.({ pipeline, bindGroup, grid, params: u && params ? { buffer: u, data: params } : null });
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  clear(buf: GPUBuffer, offset = 0, size = this.gpu.pool.sizeOf(buf) - offset): void {
    this.endPass();
    this.encoder.clearBuffer(buf, offset, size);
  }

  /** A buffer that lives until this recorder is submitted. */
  temp(size: number, usage = STORAGE, label = 'temp'): GPUBuffer {
    const b = this.gpu.pool.acquire(size, usage, label);
    this.temps.push(b);
    return b;
  }

  submit(): void {
    this.endPass();
    this.gpu.device.queue.submit([this.encoder.finish()]);
    for (const b of this.temps) this.gpu.pool.release(b);
    this.temps = [];
    this.encoder = this.gpu.device.createCommandEncoder();
    this.dispatches = 0;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

/** Workgroup counts for `n` invocations of `wgSize` threads, folded into y past the per-dimension limit. */
export function grid1d(gpu: Gpu, n: number, wgSize: number): Grid {
  const groups = Math.max(1, Math.ceil(n / wgSize));
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y, 1];
}

/** Copies `size` bytes of a GPU buffer back to the CPU. */
export async function readBuffer(gpu: Gpu, src: GPUBuffer, offset = 0, size = gpu.pool.sizeOf(src) - offset): Promise<ArrayBuffer> {
  const MAP_READ = 0x0001;
  const aligned = Math.ceil(size / 4) * 4;
  const staging = gpu.pool.acquire(aligned, MAP_READ | 0x0008, 'readback');
  const enc = gpu.device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offset, staging, 0, aligned);
  gpu.device.queue.submit([enc.finish()]);
  await staging.mapAsync(MAP_READ, 0, aligned);
  const out = staging.getMappedRange(0, aligned).slice(0, size);
  staging.unmap();
  gpu.pool.release(staging);
  gpu.checkErrors();
  return out;
}

export async function readF32(gpu: Gpu, src: GPUBuffer, offset = 0, count?: number): Promise<Float32Array> {
  const size = count === undefined ? gpu.pool.sizeOf(src) - offset : count * 4;
  return new Float32Array(await readBuffer(gpu, src, offset, size));
}

/** A storage buffer holding `data` (uploaded through the queue). */
export function uploadBuffer(gpu: Gpu, data: ArrayBufferView, label = 'upload'): GPUBuffer {
  const b = gpu.pool.acquire(data.byteLength, STORAGE, label);
  // writeBuffer wants a multiple of 4 bytes; copying also detaches us from shared buffers.
  const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  gpu.device.queue.writeBuffer(b, 0, padded);
  return b;
}

/** Packs a kernel's uniform struct: every field a u32 or f32, 4 bytes each, padded to 16. */
export function params(fields: (['u', number] | ['f', number])[]): ArrayBuffer {
  const n = Math.max(4, Math.ceil(fields.length / 4) * 4);
  const buf = new ArrayBuffer(n * 4);
  const dv = new DataView(buf);
  fields.forEach(([t, v], i) => {
    if (t === 'u') dv.setUint32(i * 4, v, true);
    else dv.setFloat32(i * 4, v, true);
  });
  return buf;
}
