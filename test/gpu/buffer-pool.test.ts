// The buffer pool's byte accounting is what memory figures are read from, so it must be exact; its
// reuse rules are what bound a run's memory whatever the lengths of its rows.

import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/gpu/buffer-pool.ts';
import { DeviceLimitError } from '../../src/gpu/errors.ts';
import { STORAGE, Recorder, readBuffer, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { testGpu } from '../helpers/gpu.ts';

const UNIFORM = 0x0040 | 0x0008;

describe('BufferPool', () => {
  it('counts live, current and peak bytes, reuses released buffers and frees on trim', async () => {
    const gpu = await testGpu();
    const pool = new BufferPool(gpu.device, gpu.limits.maxBufferSize);
    const a = pool.acquire(1000, STORAGE, 'a'); // rounded up to 1008
    const b = pool.acquire(64, STORAGE, 'b');
    expect(pool.stats()).toEqual({ liveBytes: 1072, currentBytes: 1072, peakBytes: 1072, buffers: 2, created: 2 });
    pool.release(a);
    expect(pool.stats()).toMatchObject({ liveBytes: 64, currentBytes: 1072, peakBytes: 1072 });
    const again = pool.acquire(1001, STORAGE, 'a2');
    expect(again).toBe(a);
    expect(pool.stats()).toMatchObject({ liveBytes: 1072, currentBytes: 1072, buffers: 2, created: 2 });
    pool.release(again);
    pool.trim();
    expect(pool.stats()).toMatchObject({ liveBytes: 64, currentBytes: 64, peakBytes: 1072, buffers: 1 });
    pool.destroy(b);
    expect(pool.stats()).toMatchObject({ liveBytes: 0, currentBytes: 0, buffers: 0 });
    pool.resetPeak();
    expect(pool.stats()).toMatchObject({ peakBytes: 0, created: 0 });
  });

  it('serves a request from a free buffer of its kind, else the smallest within 1.25x, and reports the size asked for', async () => {
    const gpu = await testGpu();
    const pool = new BufferPool(gpu.device, gpu.limits.maxBufferSize);
    const big = pool.acquire(4000, STORAGE, 'big');
    const mid = pool.acquire(3200, STORAGE, 'mid');
    const other = pool.acquire(3200, UNIFORM, 'uniform');
    for (const x of [big, mid, other]) pool.release(x);
    // 3100 fits both; the smaller one is taken. Another usage's buffer never is.
    const m = pool.acquire(3100, STORAGE, 'm');
    expect(m).toBe(mid);
    expect(pool.sizeOf(m)).toBe(3104);
    const bg = pool.acquire(3300, STORAGE, 'b');
    expect(bg).toBe(big);
    expect(pool.sizeOf(bg)).toBe(3312);
    expect(pool.stats()).toMatchObject({ liveBytes: 4000 + 3200, created: 3 });
    pool.release(m);
    pool.release(bg);
    // 2000 bytes would sit in a buffer of twice its size: a new one is made instead.
    const small = pool.acquire(2000, STORAGE, 'small');
    expect([big, mid]).not.toContain(small);
    expect(pool.stats().created).toBe(4);
    // A buffer of the same kind serves a request of any smaller size: the longest batch's set serves all.
    const kindBig = pool.acquire(8000, STORAGE, 'q');
    pool.release(kindBig);
    expect(pool.acquire(1000, STORAGE, 'q')).toBe(kindBig);
    expect(pool.sizeOf(kindBig)).toBe(1008);
    expect(() => pool.sizeOf(gpu.pool.acquire(16, STORAGE, 'elsewhere'))).toThrow(/does not belong to this pool/);
  });

  it('gives back least recently released buffers to stay under max(budget, highest demand)', async () => {
    const gpu = await testGpu();
    const pool = new BufferPool(gpu.device, gpu.limits.maxBufferSize);
    // Three "steps" of different lengths, one buffer each: without a budget the pool holds no more
    // than the largest single demand.
    for (const size of [1024, 2048, 4096]) pool.release(pool.acquire(size, STORAGE, `step ${size}`));
    expect(pool.stats()).toMatchObject({ currentBytes: 4096, buffers: 1 });
    pool.setBudget(8192);
    for (const size of [1024, 2048]) pool.release(pool.acquire(size, STORAGE, `step ${size}`));
    expect(pool.stats()).toMatchObject({ currentBytes: 4096 + 2048 + 1024, buffers: 3 });
    // 3000 reuses the 4096 buffer? No: 4096 > 1.25 x 3008. A new buffer must evict the oldest free ones.
    const c = pool.acquire(3000, STORAGE, 'c');
    expect(pool.stats().currentBytes).toBeLessThanOrEqual(8192);
    expect(pool.stats()).toMatchObject({ buffers: 3, currentBytes: 3008 + 2048 + 1024 });
    pool.release(c);
    pool.setBudget(4096);
    expect(pool.stats().currentBytes).toBeLessThanOrEqual(4096);
    expect(pool.stats().peakBytes).toBeLessThanOrEqual(8192);
  });

  it('clears and reads a reused larger buffer only up to the size asked for', async () => {
    const gpu = await testGpu();
    const big = uploadBuffer(gpu, Float32Array.from({ length: 300 }, (_, i) => i + 1), 'big'); // 1200 bytes
    gpu.pool.release(big);
    const x = gpu.pool.acquire(1024, STORAGE, 'x'); // 1200 <= 1.25 x 1024: the same buffer
    expect(x).toBe(big);
    const rec = new Recorder(gpu);
    rec.clear(x);
    rec.submit();
    const asked = await readF32(gpu, x);
    expect(asked).toHaveLength(256);
    expect(asked.every((v) => v === 0)).toBe(true);
    const whole = new Float32Array(await readBuffer(gpu, x, 0, 1200));
    expect(Array.from(whole.slice(256))).toEqual(Array.from({ length: 44 }, (_, i) => 257 + i));
    gpu.pool.release(x);
  });

  it('refuses a buffer larger than the device allows, before allocating', async () => {
    const gpu = await testGpu();
    const pool = new BufferPool(gpu.device, 4096);
    expect(() => pool.acquire(8192, STORAGE, 'big')).toThrow(DeviceLimitError);
    expect(() => pool.acquire(8192, STORAGE, 'big')).toThrow(/"big" needs 8 KiB, but the device offers 4 KiB/);
    expect(pool.stats()).toMatchObject({ currentBytes: 0, buffers: 0 });
  });
});
