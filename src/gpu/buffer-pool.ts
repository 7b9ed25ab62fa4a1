// Every GPU buffer the engine holds comes from here, so memory figures are measured, not estimated.
// Released buffers are kept for reuse by exact size and usage; `trim()` destroys them.

import { DeviceLimitError } from './errors.ts';

export interface PoolStats {
  /** Bytes in buffers handed out and not yet released. */
  liveBytes: number;
  /** Bytes the device holds for us: live plus kept for reuse. */
  currentBytes: number;
  /** Highest currentBytes ever reached. */
  peakBytes: number;
  buffers: number;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private sizes = new WeakMap<GPUBuffer, number>();
  private live = 0;
  private current = 0;
  private peak = 0;
  private count = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  /** A buffer of at least `size` bytes (rounded up to 16), zeroed when freshly created. */
  acquire(size: number, usage: GPUBufferUsageFlags, label = 'buffer'): GPUBuffer {
    const bytes = Math.max(16, Math.ceil(size / 16) * 16);
    if (bytes > this.maxBufferSize) throw new DeviceLimitError(bytes, this.maxBufferSize, `GPU buffer "${label}"`);
    const key = `${bytes}:${usage}`;
    const reuse = this.free.get(key)?.pop();
    this.live += bytes;
    if (reuse) return reuse;
    const buffer = this.device.createBuffer({ size: bytes, usage, label });
    this.sizes.set(buffer, bytes);
    this.current += bytes;
    this.count++;
    this.peak = Math.max(this.peak, this.current);
    return buffer;
  }

  /** Returns a buffer for reuse; its contents are not cleared. */
  release(buffer: GPUBuffer): void {
    const bytes = this.sizes.get(buffer);
    if (bytes === undefined) throw new Error(`buffer "${buffer.label}" does not belong to this pool`);
    this.live -= bytes;
    const key = `${bytes}:${buffer.usage}`;
    const list = this.free.get(key) ?? [];
    list.push(buffer);
    this.free.set(key, list);
  }

  /** Destroys every buffer kept for reuse. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.current -= this.sizes.get(b) ?? 0;
        this.count--;
        b.destroy();
      }
    }
    this.free.clear();
  }

  /** Destroys a buffer for good (large weights that should not linger for reuse). */
  destroy(buffer: GPUBuffer): void {
    const bytes = this.sizes.get(buffer);
    if (bytes === undefined) throw new Error(`buffer "${buffer.label}" does not belong to this pool`);
    this.live -= bytes;
    this.current -= bytes;
    this.count--;
    buffer.destroy();
  }

  resetPeak(): void {
    this.peak = this.current;
  }

  stats(): PoolStats {
    return { liveBytes: this.live, currentBytes: this.current, peakBytes: this.peak, buffers: this.count };
  }
}
