// The start-up autotune on the real device: it times every candidate, keeps the fastest in
// gpu.tuning, and a cached result is applied only on the adapter and version that measured it.

import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeTuningCache } from '../../src/cli/tuning-cache.ts';
import { describeAdapter } from '../../src/gpu/device.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import { defaultTuning, layoutName } from '../../src/gpu/tuning.ts';
import {
  applyMatmulTuning, autotuneMatmul, forwardCandidates, inputGradCandidates, type MatmulTuningResult, TUNING_VERSION, tuneMatmul, type TuningCache,
} from '../../src/kernels/autotune.ts';
import { testGpu } from '../helpers/gpu.ts';

describe('autotuneMatmul', () => {
  it('times every candidate and keeps the fastest of each kernel', async () => {
    const gpu = await testGpu();
    const saved = structuredClone(gpu.tuning);
    const heldBefore = gpu.pool.stats().liveBytes;
    try {
      const r = await autotuneMatmul(gpu);
      expect(r.version).toBe(TUNING_VERSION);
      expect(r.adapter).toBe(describeAdapter(gpu.adapter));
      expect(r.forward.map((t) => t.layout)).toEqual(forwardCandidates(gpu).map(layoutName));
      expect(r.inputGrad.map((t) => t.layout)).toEqual(inputGradCandidates(gpu).map(layoutName));
      for (const t of [...r.forward, ...r.inputGrad]) expect(Number.isFinite(t.ms) && t.ms > 0, `${t.layout}: ${t.ms}`).toBe(true);
      const fastest = (ts: { layout: string; ms: number }[]) => ts.reduce((a, b) => (b.ms < a.ms ? b : a)).layout;
      expect(layoutName(r.chosen.forward)).toBe(fastest(r.forward));
      expect(layoutName(r.chosen.inputGrad)).toBe(fastest(r.inputGrad));
      expect(gpu.tuning.matmul).toEqual(r.chosen);
      expect(gpu.tuning.source).toBe('measured');
      // Nothing the measurement allocated stays behind.
      expect(gpu.pool.stats().liveBytes).toBe(heldBefore);
    } finally {
      gpu.tuning = saved;
    }
  });
});

function result(gpu: { adapter: Parameters<typeof describeAdapter>[0] }, rows: number): MatmulTuningResult {
  const d = defaultTuning(gpu.adapter).matmul;
  return {
    version: TUNING_VERSION, adapter: describeAdapter(gpu.adapter), shape: { M: 1, N: 1, K: 8 },
    chosen: { forward: d.forward, inputGrad: { ...d.inputGrad, rows } }, forward: [], inputGrad: [], tookMs: 1,
  };
}

describe('cached tuning', () => {
  it('is applied only when the adapter and the version match', async () => {
    const gpu = await testGpu();
    const saved = structuredClone(gpu.tuning);
    try {
      expect(applyMatmulTuning(gpu, { ...result(gpu, 7), adapter: 'another GPU' })).toBe(false);
      expect(applyMatmulTuning(gpu, { ...result(gpu, 7), version: TUNING_VERSION - 1 })).toBe(false);
      expect(gpu.tuning.matmul.inputGrad.rows).toBe(saved.matmul.inputGrad.rows);
      expect(applyMatmulTuning(gpu, result(gpu, 7))).toBe(true);
      expect(gpu.tuning.matmul.inputGrad.rows).toBe(7);
      expect(gpu.tuning.source).toBe('measured');
    } finally {
      gpu.tuning = saved;
    }
  });

  it('tuneMatmul measures once, saves, and the next device takes the saved layouts without measuring', async () => {
    const saved: MatmulTuningResult[] = [];
    const cache: TuningCache = {
      load: async (adapter) => saved.find((r) => r.adapter === adapter) ?? null,
      save: async (r) => void saved.push(r),
    };
    const first = await createNodeGpu();
    const second = await createNodeGpu();
    try {
      const a = await tuneMatmul(first, cache);
      expect(a.cached).toBe(false);
      expect(saved).toHaveLength(1);
      const b = await tuneMatmul(second, cache);
      expect(b.cached).toBe(true);
      expect(saved).toHaveLength(1);
      expect(second.tuning.matmul).toEqual(first.tuning.matmul);
    } finally {
      first.destroy();
      second.destroy();
    }
  });

  it('a cache that cannot be read or written costs a measurement, not the run', async () => {
    const gpu = await createNodeGpu();
    try {
      const broken: TuningCache = { load: () => Promise.reject(new Error('disk gone')), save: () => Promise.reject(new Error('disk full')) };
      const r = await tuneMatmul(gpu, broken);
      expect(r.cached).toBe(false);
      expect(gpu.tuning.source).toBe('measured');
    } finally {
      gpu.destroy();
    }
  });

  it('nodeTuningCache keeps one entry per adapter in a JSON file', async () => {
    const gpu = await testGpu();
    const dir = await mkdtemp(join(tmpdir(), 'tabtune-tuning-'));
    const cache = nodeTuningCache(dir);
    expect(await cache.load(describeAdapter(gpu.adapter))).toBeNull();
    await cache.save(result(gpu, 4));
    await cache.save({ ...result(gpu, 2), adapter: 'another GPU' });
    await cache.save(result(gpu, 8)); // replaces the first
    expect((await cache.load(describeAdapter(gpu.adapter)))?.chosen.inputGrad.rows).toBe(8);
    expect((await cache.load('another GPU'))?.chosen.inputGrad.rows).toBe(2);
    const file = JSON.parse(await readFile(join(dir, 'matmul-tuning.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(file).sort()).toEqual(['another GPU', describeAdapter(gpu.adapter)].sort());
  });
});
