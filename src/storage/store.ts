// The app's persistence: runs, adapters and checkpoints in IndexedDB, behind one async interface.
// Used from the worker (checkpoints and metrics while training) and from state/ (lists for the UI);
// each side opens its own connection, and IndexedDB serializes their transactions.

import { StorageError } from './errors.ts';
import { openDatabase } from './schema.ts';
import type { TabtuneDatabase } from './schema.ts';
import { guard, inTx } from './tx.ts';
import type {
  AdapterRecord,
  AdapterSummary,
  CheckpointRecord,
  MetricPoint,
  RunRecord,
  StorageUsage,
} from './types.ts';

/** Fields updateRun may change; `updatedAt` defaults to now. */
export type RunPatch<Settings = unknown> = Partial<Omit<RunRecord<Settings>, 'id' | 'createdAt'>>;

/**
 * Every method rejects with a StorageError (StorageFullError when the quota is reached) that names
 * the operation and the record. Writes are all-or-nothing.
 */
export interface TabtuneStorage<Settings = unknown, State = unknown> {
  /** Creates or replaces a run. */
  putRun(run: RunRecord<Settings>): Promise<void>;
  getRun(id: string): Promise<RunRecord<Settings> | undefined>;
  /** Newest first (by createdAt). */
  listRuns(): Promise<RunRecord<Settings>[]>;
  /** Read-modify-write in one transaction; returns the run as saved. Fails if there is no such run. */
  updateRun(id: string, patch: RunPatch<Settings>): Promise<RunRecord<Settings>>;
  /** Appends chart points, advancing `step` to the highest step seen, in one transaction. */
  appendMetrics(runId: string, points: readonly MetricPoint[]): Promise<void>;
  /** Deletes the run and its checkpoint (its adapter, if saved, stays). */
  deleteRun(id: string): Promise<void>;

  /** Creates or replaces an adapter, files included. */
  putAdapter(adapter: AdapterRecord): Promise<void>;
  getAdapter(id: string): Promise<AdapterRecord | undefined>;
  /** Newest first (by createdAt), without the files. */
  listAdapters(): Promise<AdapterSummary[]>;
  renameAdapter(id: string, name: string): Promise<void>;
  deleteAdapter(id: string): Promise<void>;

  /** Replaces the run's checkpoint; if it fails, the previous checkpoint is still there. */
  putCheckpoint(checkpoint: CheckpointRecord<State>): Promise<void>;
  getCheckpoint(runId: string): Promise<CheckpointRecord<State> | undefined>;
  deleteCheckpoint(runId: string): Promise<void>;

  /** The site's usage and quota in bytes, or null where the browser does not say. */
  estimate(): Promise<StorageUsage | null>;
  /** Closes the connection; later calls fail. */
  close(): void;
}

export interface OpenStorageOptions {
  /** The IndexedDB to use; globalThis.indexedDB when absent (tests pass fake-indexeddb's). */
  indexedDB?: IDBFactory;
}

export async function openStorage<Settings = unknown, State = unknown>(
  dbName = 'tabtune',
  options: OpenStorageOptions = {},
): Promise<TabtuneStorage<Settings, State>> {
  const record = `the database "${dbName}"`;
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) {
    throw StorageError.failed('open', record, 'this browser offers no IndexedDB (private windows may turn it off)');
  }
  const db = await guard('open', record, () => openDatabase(dbName, factory));
  return new IdbStorage<Settings, State>(db);
}

const runLabel = (id: string) => `run "${id}"`;
const adapterLabel = (id: string) => `adapter "${id}"`;
const checkpointLabel = (runId: string) => `the checkpoint of run "${runId}"`;

class IdbStorage<Settings, State> implements TabtuneStorage<Settings, State> {
  constructor(private readonly db: TabtuneDatabase) {}

  putRun(run: RunRecord<Settings>): Promise<void> {
    return guard('save', runLabel(run.id), () =>
      inTx(this.db, ['runs'], 'readwrite', async (tx) => {
        await tx.objectStore('runs').put(run);
      }),
    );
  }

  getRun(id: string): Promise<RunRecord<Settings> | undefined> {
    return guard('read', runLabel(id), async () => (await this.db.get('runs', id)) as RunRecord<Settings> | undefined);
  }

  listRuns(): Promise<RunRecord<Settings>[]> {
    return guard('list', 'the runs', async () => {
      const runs = await this.db.getAllFromIndex('runs', 'byCreated');
      return runs.reverse() as RunRecord<Settings>[];
    });
  }

  updateRun(id: string, patch: RunPatch<Settings>): Promise<RunRecord<Settings>> {
    return guard('update', runLabel(id), () =>
      inTx(this.db, ['runs'], 'readwrite', async (tx) => {
        const store = tx.objectStore('runs');
        const run = (await store.get(id)) as RunRecord<Settings> | undefined;
        if (!run) throw StorageError.failed('update', runLabel(id), 'there is no such run');
        // id and createdAt are pinned: a patch must not move the record or its place in the list.
        const next: RunRecord<Settings> = {
          ...run,
          ...patch,
          id: run.id,
          createdAt: run.createdAt,
          updatedAt: patch.updatedAt ?? Date.now(),
        };
        await store.put(next);
        return next;
      }),
    );
  }

  appendMetrics(runId: string, points: readonly MetricPoint[]): Promise<void> {
    return guard('update', `the metrics of ${runLabel(runId)}`, () =>
      inTx(this.db, ['runs'], 'readwrite', async (tx) => {
        const store = tx.objectStore('runs');
        const run = await store.get(runId);
        if (!run) throw StorageError.failed('update', runLabel(runId), 'there is no such run');
        let step = run.step;
        for (const p of points) {
          run.metrics.push(metricPoint(p));
          step = Math.max(step, p.step);
        }
        await store.put({ ...run, step, updatedAt: Date.now() });
      }),
    );
  }

  deleteRun(id: string): Promise<void> {
    return guard('delete', runLabel(id), () =>
      inTx(this.db, ['runs', 'checkpoints'], 'readwrite', async (tx) => {
        await tx.objectStore('runs').delete(id);
        await tx.objectStore('checkpoints').delete(id);
      }),
    );
  }

  putAdapter(adapter: AdapterRecord): Promise<void> {
    const { files, ...summary } = adapter;
    const stored = { configJson: files.configJson, safetensors: compact(files.safetensors) };
    return guard('save', adapterLabel(adapter.name), () =>
      inTx(this.db, ['adapters', 'adapterFiles'], 'readwrite', async (tx) => {
        // One request after the other: if the second throws, no promise of the first is left
        // dangling, and inTx's abort rolls the first back.
        await tx.objectStore('adapters').put(summary);
        await tx.objectStore('adapterFiles').put({ id: adapter.id, files: stored });
      }),
    );
  }

  getAdapter(id: string): Promise<AdapterRecord | undefined> {
    return guard('read', adapterLabel(id), () =>
      inTx(this.db, ['adapters', 'adapterFiles'], 'readonly', async (tx) => {
        const summary = await tx.objectStore('adapters').get(id);
        const files = await tx.objectStore('adapterFiles').get(id);
        if (!summary) return undefined;
        // Both are written in one transaction, so one without the other means the database was
        // changed behind the app's back; say so rather than hand out an adapter with no weights.
        if (!files) throw StorageError.failed('read', adapterLabel(id), 'its files are missing; delete it and train again');
        return { ...summary, files: files.files };
      }),
    );
  }

  listAdapters(): Promise<AdapterSummary[]> {
    return guard('list', 'the adapters', async () => (await this.db.getAllFromIndex('adapters', 'byCreated')).reverse());
  }

  renameAdapter(id: string, name: string): Promise<void> {
    return guard('rename', adapterLabel(id), () =>
      inTx(this.db, ['adapters'], 'readwrite', async (tx) => {
        const store = tx.objectStore('adapters');
        const adapter = await store.get(id);
        if (!adapter) throw StorageError.failed('rename', adapterLabel(id), 'there is no such adapter');
        await store.put({ ...adapter, name });
      }),
    );
  }

  deleteAdapter(id: string): Promise<void> {
    return guard('delete', adapterLabel(id), () =>
      inTx(this.db, ['adapters', 'adapterFiles'], 'readwrite', async (tx) => {
        await tx.objectStore('adapters').delete(id);
        await tx.objectStore('adapterFiles').delete(id);
      }),
    );
  }

  putCheckpoint(checkpoint: CheckpointRecord<State>): Promise<void> {
    return guard('save', `${checkpointLabel(checkpoint.runId)} at step ${checkpoint.step}`, () =>
      inTx(this.db, ['checkpoints'], 'readwrite', async (tx) => {
        await tx.objectStore('checkpoints').put(checkpoint);
      }),
    );
  }

  getCheckpoint(runId: string): Promise<CheckpointRecord<State> | undefined> {
    return guard(
      'read',
      checkpointLabel(runId),
      async () => (await this.db.get('checkpoints', runId)) as CheckpointRecord<State> | undefined,
    );
  }

  deleteCheckpoint(runId: string): Promise<void> {
    return guard('delete', checkpointLabel(runId), () =>
      inTx(this.db, ['checkpoints'], 'readwrite', async (tx) => {
        await tx.objectStore('checkpoints').delete(runId);
      }),
    );
  }

  async estimate(): Promise<StorageUsage | null> {
    const manager = typeof navigator === 'undefined' ? undefined : navigator.storage;
    if (!manager || typeof manager.estimate !== 'function') return null;
    try {
      const { usage, quota } = await manager.estimate();
      return typeof usage === 'number' && typeof quota === 'number' ? { usage, quota } : null;
    } catch {
      // Only a hint for the UI; a browser that refuses to say is the same as one that cannot.
      return null;
    }
  }

  close(): void {
    this.db.close();
  }
}

/** Only the chart's fields: a TrainMetrics passed in would otherwise store its extras on every row. */
function metricPoint(p: MetricPoint): MetricPoint {
  const out: MetricPoint = { step: p.step };
  if (p.loss !== undefined) out.loss = p.loss;
  if (p.valLoss !== undefined) out.valLoss = p.valLoss;
  if (p.lr !== undefined) out.lr = p.lr;
  if (p.tokensPerSecond !== undefined) out.tokensPerSecond = p.tokensPerSecond;
  return out;
}

/** Structured clone stores a view's whole buffer; a view into a bigger buffer is copied out first. */
function compact(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}
