// Every GPU buffer the engine holds comes from here, so memory figures are measured, not estimated.
//
// Why best fit by kind under a cap. Training pads each micro-batch to its own longest
// row, so almost every step asks for a new set of sizes. Keeping free buffers by exact size (as this
// pool once did) made every new length allocate a fresh set and never give the old ones back: memory
// grew with the number of distinct lengths seen, to 7-17x the plan within 60-200 steps. Now:
//   1. Best fit by kind: a request takes the smallest free buffer of its usage that holds it and was
//      made for the same kind of data (its label: "q", "lora_du", ...), however much larger: the set
//      made for the longest micro-batch then serves every shorter one, as an arena sized for the
//      plan's rows would, and the bytes in use never pass what the longest batch needed. Failing
//      that, any free buffer within MAX_SLACK of the request. (Unbounded reuse across kinds was tried
//      first: small requests sat in other kinds' big buffers and the bytes in use doubled; reuse
//      within MAX_SLACK only made and destroyed ~80 buffers a step at a tight budget, 5-13% slower.)
//   2. A cap on what the pool holds: before creating a buffer that would take the total past
//      max(budget, highest bytes in use so far), it destroys free buffers, least recently used first.
//      The budget is the run's memory plan (the trainer sets it; see setBudget), sized for the
//      longest micro-batch the run can see; without one the pool holds no more than its own highest
//      demand (evaluation, a long chat). So the total never passes max(plan, highest demand),
//      whatever the lengths of the rows.
// A run thus makes buffers only until it has seen its longest batch. Size classes (rounding every
// buffer up to a power of two or a fraction of one) were the other candidate: they waste up to that
// fraction of every buffer, weights included, for reuse that best fit by kind gives without waste.
// A buffer larger than asked for is bound at the asked size (sizeOf), so kernels never see the slack.

import { DeviceLimitError } from './errors.ts';

/** A free buffer of another kind serves requests down to 1/MAX_SLACK of its size. */
const MAX_SLACK = 1.25;

export interface PoolStats {
  /** Bytes in buffers handed out and not yet released. */
  liveBytes: number;
  /** Bytes the device holds for us: live plus kept for reuse. */
  currentBytes: number;
  /** Highest currentBytes since the last resetPeak. */
  peakBytes: number;
  buffers: number;
  /** Buffers created since the last resetPeak (a steady run creates none). */
  created: number;
}

interface FreeBuffer {
  buffer: GPUBuffer;
  bytes: number;
  /** The label it was made with: what kind of data it holds ("q", "lora_du", ...). */
  kind: string;
  /** When it was released: the lowest is evicted first. */
  stamp: number;
}

export class BufferPool {
  /** Free buffers per usage, sorted by size. */
  private free = new Map<number, FreeBuffer[]>();
  private sizes = new WeakMap<GPUBuffer, number>();
  private kinds = new WeakMap<GPUBuffer, string>();
  /** The size asked for at the buffer's latest acquire (at most its real size). */
  private asked = new WeakMap<GPUBuffer, number>();
  private live = 0;
  private current = 0;
  private peak = 0;
  private peakLive = 0;
  private count = 0;
  private created = 0;
  private clock = 0;
  private budget = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  /** A buffer of at least `size` bytes (rounded up to 16), zeroed when freshly created. */
  acquire(size: number, usage: GPUBufferUsageFlags, label = 'buffer'): GPUBuffer {
    const bytes = Math.max(16, Math.ceil(size / 16) * 16);
    if (bytes > this.maxBufferSize) throw new DeviceLimitError(bytes, this.maxBufferSize, `GPU buffer "${label}"`);
    const reuse = this.takeFree(usage, bytes, label);
    if (reuse) {
      this.live += this.sizes.get(reuse)!;
      this.peakLive = Math.max(this.peakLive, this.live);
      this.asked.set(reuse, bytes);
      return reuse;
    }
    this.live += bytes;
    this.peakLive = Math.max(this.peakLive, this.live);
    this.evictFor(bytes);
    const buffer = this.device.createBuffer({ size: bytes, usage, label });
    this.sizes.set(buffer, bytes);
    this.kinds.set(buffer, label);
    this.asked.set(buffer, bytes);
    this.current += bytes;
    this.count++;
    this.created++;
    this.peak = Math.max(this.peak, this.current);
    return buffer;
  }

  /** Returns a buffer for reuse; its contents are not cleared. */
  release(buffer: GPUBuffer): void {
    const bytes = this.sizeOfBuffer(buffer);
    this.live -= bytes;
    const list = this.free.get(buffer.usage) ?? [];
    list.splice(firstAtLeast(list, bytes), 0, { buffer, bytes, kind: this.kinds.get(buffer)!, stamp: this.clock++ });
    this.free.set(buffer.usage, list);
  }

  /** The bytes asked for when `buffer` was last acquired: what a kernel may bind and read. */
  sizeOf(buffer: GPUBuffer): number {
    const n = this.asked.get(buffer);
    if (n === undefined) throw new Error(`buffer "${buffer.label}" does not belong to this pool`);
    return n;
  }

  /**
   * Bytes the pool may hold without giving back free buffers (the run's memory plan), or 0 for no
   * allowance beyond the highest live demand. Free buffers over it are destroyed now.
   */
  setBudget(bytes: number): void {
    this.budget = Math.max(0, bytes);
    this.evictFor(0);
  }

  get budgetBytes(): number {
    return this.budget;
  }

  /** Destroys every buffer kept for reuse; the cap then follows only the demand from here on. */
  trim(): void {
    for (const list of this.free.values()) for (const f of list) this.destroyFree(f);
    this.free.clear();
    this.peakLive = this.live;
  }

  /** Destroys a buffer for good (large weights that should not linger for reuse). */
  destroy(buffer: GPUBuffer): void {
    const bytes = this.sizeOfBuffer(buffer);
    this.live -= bytes;
    this.current -= bytes;
    this.count--;
    buffer.destroy();
  }

  /** Starts a new measurement: peaks and the creation count restart from what is held now. */
  resetPeak(): void {
    this.peak = this.current;
    this.peakLive = this.live;
    this.created = 0;
  }

  stats(): PoolStats {
    return { liveBytes: this.live, currentBytes: this.current, peakBytes: this.peak, buffers: this.count, created: this.created };
  }

  private sizeOfBuffer(buffer: GPUBuffer): number {
    const bytes = this.sizes.get(buffer);
    if (bytes === undefined) throw new Error(`buffer "${buffer.label}" does not belong to this pool`);
    return bytes;
  }

  /**
   * The smallest free buffer of `usage` holding `bytes` that was made for the same kind of data,
   * however large; else the smallest of any kind within MAX_SLACK of `bytes`. Taken off the free list.
   */
  private takeFree(usage: GPUBufferUsageFlags, bytes: number, kind: string): GPUBuffer | null {
    const list = this.free.get(usage);
    if (!list) return null;
    const i = firstAtLeast(list, bytes);
    let pick = -1;
    for (let j = i; j < list.length && pick < 0; j++) if (list[j]!.kind === kind) pick = j;
    if (pick < 0 && i < list.length && list[i]!.bytes <= bytes * MAX_SLACK) pick = i;
    return pick < 0 ? null : list.splice(pick, 1)[0]!.buffer;
  }

  /** Destroys free buffers, least recently released first, until `bytes` more fit under the cap. */
  private evictFor(bytes: number): void {
    const cap = Math.max(this.budget, this.peakLive);
    while (this.current + bytes > cap) {
      let oldest: { list: FreeBuffer[]; i: number } | null = null;
      for (const list of this.free.values()) {
        list.forEach((f, i) => {
          if (!oldest || f.stamp < oldest.list[oldest.i]!.stamp) oldest = { list, i };
        });
      }
      if (!oldest) return;
      const { list, i } = oldest as { list: FreeBuffer[]; i: number };
      this.destroyFree(list.splice(i, 1)[0]!);
    }
  }

  private destroyFree(f: FreeBuffer): void {
    this.current -= f.bytes;
    this.count--;
    f.buffer.destroy();
  }
}

/** Index of the first entry of a size-sorted list with at least `bytes` (list.length if none). */
function firstAtLeast(list: FreeBuffer[], bytes: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.bytes < bytes) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
