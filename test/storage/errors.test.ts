// Failures: a full quota becomes StorageFullError and leaves the previous record readable; anything
// else becomes a StorageError naming the operation and the record.
// Runs on fake-indexeddb, which has no quota, so quota failures are injected into IDBObjectStore.put.
// The real browser IndexedDB is exercised by the e2e tests.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { StorageError, StorageFullError, toStorageError } from '../../src/storage/errors.ts';
import { makeAdapter, makeCheckpoint, makeRun, openTestStorage } from './fixtures.ts';
import type { TestStorage } from './fixtures.ts';

const quota = () => new DOMException('The quota has been exceeded.', 'QuotaExceededError');
const realPut = IDBObjectStore.prototype.put;

/** The next put throws at once, as browsers do when they know up front that the value won't fit. */
function failNextPutNow(): void {
  vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementationOnce(() => {
    throw quota();
  });
}

/**
 * The next put succeeds, then the transaction is aborted with a QuotaExceededError before it
 * commits, as Chromium does when the quota check happens at commit. `_abort` is fake-indexeddb's
 * internal abort-with-error (what the spec's "abort a transaction with error" does).
 */
function failNextCommit(): void {
  vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementationOnce(function (this: IDBObjectStore, ...args) {
    const request = realPut.apply(this, args);
    const tx = this.transaction as IDBTransaction & { _abort(name: string): void };
    request.addEventListener('success', () => tx._abort('QuotaExceededError'));
    return request;
  });
}

/**
 * The transaction is aborted with a QuotaExceededError while the put is still pending, so the put
 * itself fails with a bare AbortError and only the transaction's error names the quota.
 */
function failNextRequest(): void {
  vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementationOnce(function (this: IDBObjectStore, ...args) {
    const request = realPut.apply(this, args);
    (this.transaction as IDBTransaction & { _abort(name: string): void })._abort('QuotaExceededError');
    return request;
  });
}

let storage: TestStorage | undefined;
async function fresh(): Promise<TestStorage> {
  storage = await openTestStorage();
  return storage;
}

afterEach(() => {
  vi.restoreAllMocks();
  storage?.close();
  storage = undefined;
});

describe.each([
  ['thrown by put', failNextPutNow],
  ['at commit', failNextCommit],
  ['while the put is pending', failNextRequest],
])('quota exceeded %s', (_how, inject) => {
  it('checkpoint: StorageFullError, and the previous checkpoint is still readable', async () => {
    const s = await fresh();
    const first = makeCheckpoint('r', 10);
    await s.putCheckpoint(first);

    inject();
    const err = await s.putCheckpoint(makeCheckpoint('r', 20)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageFullError);
    expect(err).toBeInstanceOf(StorageError);
    const full = err as StorageFullError;
    expect(full.name).toBe('StorageFullError');
    expect(full.operation).toBe('save');
    expect(full.message).toMatch(/storage for this site is full/);
    expect(full.message).toMatch(/checkpoint of run "r" at step 20/);
    expect(full.message).toMatch(/saved before is kept/);
    expect(full.message).toMatch(/delete old runs or adapters/);
    expect(full.message).toMatch(/free disk space/);
    expect((full.cause as DOMException).name).toBe('QuotaExceededError');

    const back = await s.getCheckpoint('r');
    expect(back).toEqual(first);
    expect(back?.state.moments.m).toBeInstanceOf(Float32Array);
    // And the store still works once there is room again.
    await s.putCheckpoint(makeCheckpoint('r', 30));
    expect((await s.getCheckpoint('r'))?.step).toBe(30);
  });

  it('adapter: StorageFullError, and neither its summary nor its files are half-written', async () => {
    const s = await fresh();
    await s.putAdapter(makeAdapter('keep', 1));

    inject();
    await expect(s.putAdapter(makeAdapter('big', 2))).rejects.toBeInstanceOf(StorageFullError);
    expect(await s.getAdapter('big')).toBeUndefined();
    expect((await s.listAdapters()).map((a) => a.id)).toEqual(['keep']);
    expect(await s.getAdapter('keep')).toEqual(makeAdapter('keep', 1));
  });

  it('updateRun: StorageFullError, and the run is unchanged', async () => {
    const s = await fresh();
    await s.putRun(makeRun('r', 1, { step: 5 }));

    inject();
    await expect(s.appendMetrics('r', [{ step: 6, loss: 1 }])).rejects.toBeInstanceOf(StorageFullError);
    expect(await s.getRun('r')).toEqual(makeRun('r', 1, { step: 5 }));
  });
});

describe('a write over two stores', () => {
  it('rolls back the first store when the second put fails', async () => {
    const s = await fresh();
    await s.putAdapter(makeAdapter('keep', 1));

    // The summary's put goes through; the files' put (the big one) hits the quota.
    vi.spyOn(IDBObjectStore.prototype, 'put')
      .mockImplementationOnce(function (this: IDBObjectStore, ...args) {
        return realPut.apply(this, args);
      })
      .mockImplementationOnce(() => {
        throw quota();
      });
    await expect(s.putAdapter(makeAdapter('big', 2))).rejects.toBeInstanceOf(StorageFullError);
    expect((await s.listAdapters()).map((a) => a.id)).toEqual(['keep']);
    expect(await s.getAdapter('big')).toBeUndefined();
  });
});

describe('other failures', () => {
  it('a value that cannot be cloned is a StorageError naming the operation and record', async () => {
    const s = await fresh();
    await s.putCheckpoint(makeCheckpoint('r', 1));
    const bad = { ...makeCheckpoint('r', 2), state: { fn: () => 1 } as never };

    const err = await s.putCheckpoint(bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageError);
    expect(err).not.toBeInstanceOf(StorageFullError);
    expect((err as StorageError).message).toMatch(/^Could not save the checkpoint of run "r" at step 2: DataCloneError/);
    expect((await s.getCheckpoint('r'))?.step).toBe(1);
  });

  it('toStorageError recognizes quota errors by name and passes StorageErrors through', () => {
    expect(toStorageError(quota(), 'save', 'run "x"')).toBeInstanceOf(StorageFullError);
    const firefox = new DOMException('full', 'NS_ERROR_DOM_QUOTA_REACHED');
    expect(toStorageError(firefox, 'save', 'run "x"')).toBeInstanceOf(StorageFullError);
    const other = toStorageError(new DOMException('gone', 'InvalidStateError'), 'read', 'run "x"');
    expect(other).not.toBeInstanceOf(StorageFullError);
    expect(other.message).toBe('Could not read run "x": InvalidStateError: gone');
    expect(toStorageError(other, 'save', 'y')).toBe(other);
  });
});
