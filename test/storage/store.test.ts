// Round trips, ordering and the read-modify-write calls of the IndexedDB storage.
// Runs on fake-indexeddb; the real browser IndexedDB is exercised by the e2e tests.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { IDBFactory } from 'fake-indexeddb';
import { StorageError } from '../../src/storage/errors.ts';
import { makeAdapter, makeCheckpoint, makeRun, openTestStorage } from './fixtures.ts';
import type { TestStorage } from './fixtures.ts';

const open: TestStorage[] = [];
async function fresh(factory?: IDBFactory): Promise<TestStorage> {
  const s = await openTestStorage(factory);
  open.push(s);
  return s;
}

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  vi.unstubAllGlobals();
});

describe('runs', () => {
  it('round-trips a run and lists newest first', async () => {
    const s = await fresh();
    await s.putRun(makeRun('b', 2000));
    await s.putRun(makeRun('a', 1000));
    await s.putRun(makeRun('c', 3000, { status: 'failed', error: 'device lost' }));

    expect(await s.getRun('c')).toEqual(makeRun('c', 3000, { status: 'failed', error: 'device lost' }));
    expect(await s.getRun('nope')).toBeUndefined();
    expect((await s.listRuns()).map((r) => r.id)).toEqual(['c', 'b', 'a']);
  });

  it('updateRun merges the patch, keeps id and createdAt, and stamps updatedAt', async () => {
    const s = await fresh();
    await s.putRun(makeRun('r', 1000, { updatedAt: 1000 }));
    const before = Date.now();
    const saved = await s.updateRun('r', { status: 'paused', step: 40, adapterId: 'ad-1' });

    expect(saved.status).toBe('paused');
    expect(saved.step).toBe(40);
    expect(saved.adapterId).toBe('ad-1');
    expect(saved.createdAt).toBe(1000);
    expect(saved.updatedAt).toBeGreaterThanOrEqual(before);
    expect(saved.settings).toEqual({ rank: 8, lr: 2e-4, targets: ['q_proj', 'v_proj'] });
    expect(await s.getRun('r')).toEqual(saved);

    // A patch can't move the record, even if it smuggles in an id.
    await s.updateRun('r', { name: 'renamed', id: 'other' } as never);
    expect((await s.getRun('r'))?.name).toBe('renamed');
    expect(await s.getRun('other')).toBeUndefined();
  });

  it('updateRun and appendMetrics on a missing run fail with a StorageError naming it', async () => {
    const s = await fresh();
    await expect(s.updateRun('ghost', { step: 1 })).rejects.toThrow(StorageError);
    await expect(s.updateRun('ghost', { step: 1 })).rejects.toThrow(/run "ghost".*no such run/);
    await expect(s.appendMetrics('ghost', [{ step: 1 }])).rejects.toThrow(/run "ghost"/);
    expect(await s.listRuns()).toEqual([]);
  });

  it('appendMetrics appends in order, keeps only chart fields and advances step', async () => {
    const s = await fresh();
    await s.putRun(makeRun('r', 1000, { step: 0 }));
    await s.appendMetrics('r', [
      { step: 1, loss: 3.5, lr: 1e-4 },
      { step: 2, loss: 3.25, tokensPerSecond: 900 },
    ]);
    // A TrainMetrics has more fields than the chart needs; they must not be stored per point.
    const fromWorker = { step: 2, totalSteps: 100, valLoss: 3.4, etaMs: 5000, peakBytes: 1e9 };
    await s.appendMetrics('r', [fromWorker]);

    const run = await s.getRun('r');
    expect(run?.metrics).toEqual([
      { step: 1, loss: 3.5, lr: 1e-4 },
      { step: 2, loss: 3.25, tokensPerSecond: 900 },
      { step: 2, valLoss: 3.4 },
    ]);
    expect(run?.step).toBe(2);
    expect(run?.totalSteps).toBe(100);
  });

  it('deleteRun removes the run and its checkpoint, and nothing else', async () => {
    const s = await fresh();
    await s.putRun(makeRun('r1', 1));
    await s.putRun(makeRun('r2', 2));
    await s.putCheckpoint(makeCheckpoint('r1', 10));
    await s.putCheckpoint(makeCheckpoint('r2', 20));

    await s.deleteRun('r1');
    expect(await s.getRun('r1')).toBeUndefined();
    expect(await s.getCheckpoint('r1')).toBeUndefined();
    expect((await s.getCheckpoint('r2'))?.step).toBe(20);
    expect((await s.listRuns()).map((r) => r.id)).toEqual(['r2']);
  });
});

describe('checkpoints', () => {
  it('round-trips typed arrays and maps inside the state', async () => {
    const s = await fresh();
    const ckpt = makeCheckpoint('r', 7);
    await s.putCheckpoint(ckpt);
    const back = await s.getCheckpoint('r');

    expect(back).toEqual(ckpt);
    expect(back?.state.moments.m).toBeInstanceOf(Float32Array);
    expect(Array.from(back?.state.moments.m ?? [])).toEqual(Array.from(ckpt.state.moments.m));
    expect(back?.state.lora.get('model.layers.0.self_attn.q_proj.lora_A')).toBeInstanceOf(Float32Array);
  });

  it('keeps only the latest checkpoint per run', async () => {
    const s = await fresh();
    await s.putCheckpoint(makeCheckpoint('r', 10));
    await s.putCheckpoint(makeCheckpoint('r', 20));
    const back = await s.getCheckpoint('r');
    expect(back?.step).toBe(20);
    expect(back?.state.moments.m[0]).toBe(20);

    await s.deleteCheckpoint('r');
    expect(await s.getCheckpoint('r')).toBeUndefined();
  });
});

describe('adapters', () => {
  it('round-trips an adapter with its files', async () => {
    const s = await fresh();
    const adapter = makeAdapter('a', 1000);
    await s.putAdapter(adapter);
    const back = await s.getAdapter('a');

    expect(back).toEqual(adapter);
    expect(back?.files.safetensors).toBeInstanceOf(Uint8Array);
    expect(Array.from(back?.files.safetensors ?? [])).toEqual([1, 2, 3, 250]);
    expect(await s.getAdapter('missing')).toBeUndefined();
  });

  it('stores only the viewed bytes of a Uint8Array into a bigger buffer', async () => {
    const s = await fresh();
    const big = new Uint8Array(4096).map((_, i) => i & 0xff);
    await s.putAdapter(makeAdapter('a', 1, big.subarray(100, 110)));
    const bytes = (await s.getAdapter('a'))?.files.safetensors;
    expect(bytes?.buffer.byteLength).toBe(10);
    expect(Array.from(bytes ?? [])).toEqual(Array.from(big.subarray(100, 110)));
  });

  it('lists newest first without files', async () => {
    const s = await fresh();
    await s.putAdapter(makeAdapter('old', 1000));
    await s.putAdapter(makeAdapter('new', 3000));
    await s.putAdapter(makeAdapter('mid', 2000));

    const list = await s.listAdapters();
    expect(list.map((a) => a.id)).toEqual(['new', 'mid', 'old']);
    for (const a of list) expect(a).not.toHaveProperty('files');
    const { files: _files, ...summary } = makeAdapter('mid', 2000);
    expect(list[1]).toEqual(summary);
  });

  it('renames and deletes', async () => {
    const s = await fresh();
    await s.putAdapter(makeAdapter('a', 1));
    await s.putAdapter(makeAdapter('b', 2));

    await s.renameAdapter('a', 'Shakespeare v2');
    expect((await s.getAdapter('a'))?.name).toBe('Shakespeare v2');
    expect((await s.getAdapter('a'))?.files.configJson).toBe('{"r":8,"lora_alpha":16}');
    await expect(s.renameAdapter('zzz', 'x')).rejects.toThrow(/adapter "zzz".*no such adapter/);

    await s.deleteAdapter('a');
    expect(await s.getAdapter('a')).toBeUndefined();
    expect((await s.listAdapters()).map((x) => x.id)).toEqual(['b']);
    await s.deleteAdapter('a'); // deleting twice is harmless
  });
});

describe('connections and estimate', () => {
  it('a second connection (worker vs main thread) sees the first one’s writes', async () => {
    const factory = new IDBFactory();
    const worker = await fresh(factory);
    const ui = await fresh(factory);
    await worker.putRun(makeRun('r', 1));
    await worker.appendMetrics('r', [{ step: 1, loss: 2 }]);
    expect((await ui.getRun('r'))?.metrics).toEqual([{ step: 1, loss: 2 }]);
  });

  it('estimate reports usage and quota, or null where the browser does not', async () => {
    const s = await fresh();
    vi.stubGlobal('navigator', { storage: { estimate: async () => ({ usage: 123, quota: 4567 }) } });
    expect(await s.estimate()).toEqual({ usage: 123, quota: 4567 });
    vi.stubGlobal('navigator', {});
    expect(await s.estimate()).toBeNull();
    vi.stubGlobal('navigator', {
      storage: {
        estimate: async () => {
          throw new Error('denied');
        },
      },
    });
    expect(await s.estimate()).toBeNull();
  });
});
