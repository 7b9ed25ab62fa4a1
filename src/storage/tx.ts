// Transactions and error translation shared by every storage call.

import type { IDBPTransaction, StoreNames } from 'idb';
import { isQuotaError, toStorageError } from './errors.ts';
import type { TabtuneDatabase, TabtuneDB } from './schema.ts';

type Name = StoreNames<TabtuneDB>;

/**
 * Runs `body` in one transaction and resolves only once it has committed, so a caller that was told
 * "saved" can rely on it. On any failure the transaction is aborted: IndexedDB then rolls back every
 * write in it, which is what keeps the previous record intact when a big write fails halfway.
 * `body` may await only requests of `tx` (awaiting anything else lets the transaction auto-commit).
 */
export async function inTx<const N extends Name[], M extends IDBTransactionMode, T>(
  db: TabtuneDatabase,
  names: N,
  mode: M,
  body: (tx: IDBPTransaction<TabtuneDB, N, M>) => Promise<T>,
): Promise<T> {
  const tx = db.transaction(names, mode);
  const done = tx.done;
  // Observed now so an abort is never reported as an unhandled rejection; awaited below.
  done.catch(() => undefined);
  try {
    const value = await body(tx);
    await done;
    return value;
  } catch (e) {
    try {
      tx.abort();
    } catch {
      // Already committed or aborted: nothing left to roll back.
    }
    // When the browser aborts at commit for quota, requests fail with a bare AbortError and only
    // the transaction's error says why.
    throw isQuotaError(tx.error) ? tx.error : e;
  }
}

/** Runs `fn`, turning whatever it throws into a StorageError naming the operation and record. */
export async function guard<T>(operation: string, record: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toStorageError(e, operation, record);
  }
}
