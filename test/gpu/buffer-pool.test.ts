// The buffer pool's byte accounting is what memory figures are read from, so it must be exact.

import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/gpu/buffer-pool.ts';
import { DeviceLimitError } from '../../src/gpu/errors.ts';
import { STORAGE } from '../../src/gpu/recorder.ts';
import { testGpu } from '../helpers/gpu.ts';

describe('BufferPool', () => {
  it('counts live, current and peak bytes, reuses released buffers and frees on trim', async () => {
    const gpu = await testGpu();
    const pool = new BufferPool(gpu.device, gpu.limits.maxBufferSize);
    const a = pool.acquire(1000, STORAGE, 'a'); // rounded up to 1008
    const b = pool.acquire(64, STORAGE, 'b');
    expect(pool.stats()).toEqual({ liveBytes: 1072, currentBytes: 1072, peakBytes: 1072, buffers: 2 });
    pool.release(a);
    expect(pool.stats()).toMatchObject({ liveBytes: 64, currentBytes: 1072, peakBytes: 1072 });
    const again = pool.acquire(1001, STORAGE, 'a2');
    expect(again).toBe(a);
    expect(pool.stats()).toMatchObject({ liveBytes: 1072, currentBytes: 1072, buffers: 2 });
    pool.release(again);
    pool.trim();
    expect(pool.stats()).toMatchObject({ liveBytes: 64, currentBytes: 64, peakBytes: 1072, buffers: 1 });
    pool.destroy(b);
    expect(pool.stats()).toMatchObject({ liveBytes: 0, currentBytes: 0, buffers: 0 });
    pool.resetPeak();
    expect(pool.stats().peakBytes).toBe(0);
  });

  it('refuses a buffer larger than the device allows, before allocating', async () => {
    const gpu = await testGpu();
    const pool = new BufferPool(gpu.device, 4096);
    expect(() => pool.acquire(8192, STORAGE, 'big')).toThrow(DeviceLimitError);
    expect(() => pool.acquire(8192, STORAGE, 'big')).toThrow(/"big" needs 8 KiB, but the device offers 4 KiB/);
    expect(pool.stats()).toMatchObject({ currentBytes: 0, buffers: 0 });
  });
});
