// Saved runs and adapters as the UI shows them: read from IndexedDB (the worker writes them while
// training), renamed and deleted from here. A separate store from the app's live state, because it
// mirrors storage rather than the worker's events.

import { useStore } from 'zustand';
import { createStore } from 'zustand/vanilla';
import type { SavedAdapter } from '../protocol/messages.ts';
import { type AppRun, type AppStorage, openAppStorage } from '../storage/app.ts';

export type { AppRun };

export interface LibraryState {
  /** Newest first. */
  runs: AppRun[];
  adapters: SavedAdapter[];
  /** The saved adapter applied in the worker (playground, exports); null: the one trained last, or none. */
  activeAdapterId: string | null;
  /** Runs whose curves the chart overlays. */
  compare: string[];
  /** Why the library is unavailable (no IndexedDB), or the last failure. */
  problem: string | null;
}

export const libraryStore = createStore<LibraryState>()(() => ({ runs: [], adapters: [], activeAdapterId: null, compare: [], problem: null }));

export function useLibrary<T>(selector: (s: LibraryState) => T): T {
  return useStore(libraryStore, selector);
}

let opened: Promise<AppStorage | null> | null = null;

function storage(): Promise<AppStorage | null> {
  opened ??= openAppStorage().then(({ storage, problem }) => {
    if (problem) libraryStore.setState({ problem });
    return storage;
  });
  return opened;
}

/** Reads the runs and adapters again (after a run changes, and at start-up). */
export async function refreshLibrary(): Promise<void> {
  const s = await storage();
  if (!s) return;
  try {
    const [runs, adapters] = await Promise.all([s.listRuns(), s.listAdapters()]);
    libraryStore.setState((st) => ({ runs, adapters, compare: st.compare.filter((id) => runs.some((r) => r.id === id)) }));
  } catch (e) {
    libraryStore.setState({ problem: (e as Error).message });
  }
}

async function change(action: (s: AppStorage) => Promise<unknown>): Promise<void> {
  const s = await storage();
  if (!s) return;
  try {
    await action(s);
    libraryStore.setState({ problem: null });
  } catch (e) {
    libraryStore.setState({ problem: (e as Error).message });
  }
  await refreshLibrary();
}

export const renameAdapter = (id: string, name: string) => change((s) => s.renameAdapter(id, name));
export const deleteAdapter = (id: string) => change((s) => s.deleteAdapter(id));
export const deleteRun = (id: string) => change((s) => s.deleteRun(id));

export function toggleCompare(id: string): void {
  libraryStore.setState((s) => ({ compare: s.compare.includes(id) ? s.compare.filter((x) => x !== id) : [...s.compare, id] }));
}

/** A run interrupted by a reload still says 'running'; one with a checkpoint can continue. */
export function canResume(run: AppRun): boolean {
  return (run.status === 'paused' || run.status === 'running' || run.status === 'failed') && run.step > 0;
}
