// The app's storage as the worker and the UI's state layer share it: runs whose settings are the
// app's training settings and dataset, checkpoints holding the engine's TrainState.

import type { DatasetSource, TrainSettings } from '../protocol/messages.ts';
import type { TrainState } from '../train/train-state.ts';
import { openStorage, type TabtuneStorage } from './store.ts';
import type { RunRecord } from './types.ts';

/** What a run needs to be started again from nothing but its record. */
export interface RunSettings {
  train: TrainSettings;
  /** A dropped file is kept as the File itself (IndexedDB stores Files), a sample by its URL. */
  dataset: DatasetSource;
}

export type AppStorage = TabtuneStorage<RunSettings, TrainState>;
export type AppRun = RunRecord<RunSettings>;

/** The app's storage, or why there is none (no IndexedDB, e.g. in Node): training then runs unsaved. */
export async function openAppStorage(): Promise<{ storage: AppStorage | null; problem: string | null }> {
  try {
    return { storage: await openStorage<RunSettings, TrainState>(), problem: null };
  } catch (e) {
    return { storage: null, problem: (e as Error).message };
  }
}
