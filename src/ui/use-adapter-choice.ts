// Which adapter the worker applies for the playground's second pane: the one trained in this
// session, a saved one from the library, or none. The worker holds at most one; training, loading a
// model and `useAdapter` replace it, so this hook follows those events to say truthfully which one
// it is, and keeps the library's activeAdapterId in step for the other panels.

import { useEffect, useState } from 'react';
import type { ModelInfoResult, SavedAdapter, TrainResult } from '../protocol/messages.ts';
import { libraryStore, useLibrary } from '../state/library.ts';
import { useAppStore } from '../state/store.ts';
import { useEngine } from './engine-context.ts';

/** The select's value for the adapter trained in this session (saved adapters use their ids). */
export const SESSION_ADAPTER = 'session';
/** The select's value for no adapter. */
export const NO_ADAPTER = '';

type Held = { kind: 'none' } | { kind: 'session' } | { kind: 'saved'; id: string };

export interface AdapterOption {
  value: string;
  label: string;
  /** Why it cannot be applied to the loaded model, if it cannot. */
  problem: string | null;
}

export interface AdapterChoice {
  value: string;
  options: AdapterOption[];
  /** The adapter the second pane generates with, or null: only the base model answers. */
  applied: { label: string } | null;
  /** A switch is in flight. */
  switching: boolean;
  error: string | null;
  choose(value: string): Promise<void>;
}

/** The base model's id as saved adapters record it (the worker's baseModelId). */
function baseModelId(model: ModelInfoResult | null): string | null {
  return model ? model.name.replace(/ \(bundled\)$/, '') : null;
}

interface Seen {
  result: TrainResult | null;
  model: ModelInfoResult | null;
  activeId: string | null;
  held: Held;
}

export function useAdapterChoice(): AdapterChoice {
  const engine = useEngine();
  const result = useAppStore((s) => (s.training.status === 'done' ? s.training.result : null));
  const model = useAppStore((s) => s.model);
  const activeId = useLibrary((s) => s.activeAdapterId);
  const adapters = useLibrary((s) => s.adapters);
  const [seen, setSeen] = useState<Seen>(() => ({
    result, model, activeId,
    held: activeId !== null ? { kind: 'saved', id: activeId } : result ? { kind: 'session' } : { kind: 'none' },
  }));
  const [switching, setSwitching] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Adjusted during render rather than in an effect, so no frame shows an adapter the worker dropped.
  if (seen.result !== result || seen.model !== model || seen.activeId !== activeId) {
    let held = seen.held;
    // The order matters: each later event replaces what the worker held after an earlier one.
    if (seen.model !== model) held = { kind: 'none' };
    if (seen.result !== result) held = result ? { kind: 'session' } : { kind: 'none' };
    if (seen.activeId !== activeId) {
      if (activeId !== null) held = { kind: 'saved', id: activeId };
      else if (held.kind === 'saved') held = { kind: 'none' };
    }
    setSeen({ result, model, activeId, held });
  }
  const held = seen.held;

  // Training or a new model replaced the saved adapter in the worker; the library must not keep naming it.
  useEffect(() => {
    if (held.kind !== 'saved' && activeId !== null) libraryStore.setState({ activeAdapterId: null });
  }, [held.kind, activeId]);

  const base = baseModelId(model);
  const options: AdapterOption[] = [{ value: NO_ADAPTER, label: 'None (base model only)', problem: null }];
  if (held.kind === 'session' && result) options.push({ value: SESSION_ADAPTER, label: 'Trained in this session', problem: null });
  for (const a of adapters) options.push(savedOption(a, base));
  if (held.kind === 'saved' && !adapters.some((a) => a.id === held.id)) {
    // Deleted from the library after it was applied: the worker still holds its weights.
    options.push({ value: held.id, label: 'Saved adapter (deleted)', problem: null });
  }
  const value = held.kind === 'session' ? SESSION_ADAPTER : held.kind === 'saved' ? held.id : NO_ADAPTER;
  const applied = value === NO_ADAPTER ? null : { label: options.find((o) => o.value === value)?.label ?? value };

  async function choose(next: string): Promise<void> {
    if (!engine || next === value || next === SESSION_ADAPTER) return;
    setSwitching(true);
    setError(null);
    try {
      const adapterId = next === NO_ADAPTER ? null : next;
      await engine.request<'useAdapter'>({ kind: 'useAdapter', adapterId });
      setSeen((s) => ({ ...s, activeId: adapterId, held: adapterId === null ? { kind: 'none' } : { kind: 'saved', id: adapterId } }));
      libraryStore.setState({ activeAdapterId: adapterId });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setSwitching(false);
    }
  }

  return { value, options, applied, switching, error, choose };
}

function savedOption(a: SavedAdapter, base: string | null): AdapterOption {
  const problem = base !== null && a.baseModel !== base ? `trained on ${a.baseModel}, not ${base}` : null;
  return { value: a.id, label: problem ? `${a.name} (${problem})` : a.name, problem };
}
