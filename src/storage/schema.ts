// The IndexedDB layout and its upgrades. Bump DB_VERSION and add a step to `upgrade` for every change;
// never edit a step that has shipped, since browsers out there already ran it.

import { wrap } from 'idb';
import type { DBSchema, IDBPDatabase } from 'idb';
import type { AdapterFiles, AdapterSummary, CheckpointRecord, RunRecord } from './types.ts';

export const DB_VERSION = 1;

export interface TabtuneDB extends DBSchema {
  runs: { key: string; value: RunRecord; indexes: { byCreated: number } };
  // An adapter's files live in their own store, written in the same transaction as its summary, so
  // listing adapters never reads (and structured-clones) megabytes of safetensors per row.
  adapters: { key: string; value: AdapterSummary; indexes: { byCreated: number } };
  adapterFiles: { key: string; value: { id: string; files: AdapterFiles } };
  // Keyed by run id: one checkpoint per run, a new one overwrites the old in a single put.
  checkpoints: { key: string; value: CheckpointRecord };
}

export type TabtuneDatabase = IDBPDatabase<TabtuneDB>;

function upgrade(db: IDBDatabase, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore('runs', { keyPath: 'id' }).createIndex('byCreated', 'createdAt');
    db.createObjectStore('adapters', { keyPath: 'id' }).createIndex('byCreated', 'createdAt');
    db.createObjectStore('adapterFiles', { keyPath: 'id' });
    db.createObjectStore('checkpoints', { keyPath: 'runId' });
  }
}

/**
 * Opens (creating or upgrading) the database through `factory`. idb's openDB only uses the global
 * indexedDB, so the open request is made here and wrapped; everything after it is plain idb.
 */
export async function openDatabase(name: string, factory: IDBFactory): Promise<TabtuneDatabase> {
  const request = factory.open(name, DB_VERSION);
  request.addEventListener('upgradeneeded', (event) => upgrade(request.result, event.oldVersion));
  const db = (await wrap(request)) as unknown as TabtuneDatabase;
  // Another tab (or the worker of a newer app version) wants to upgrade: let it, instead of
  // blocking it until this page is closed. Later calls here then fail with a StorageError.
  db.addEventListener('versionchange', () => db.close());
  return db;
}
