// Loads a base model through the worker and mirrors the outcome in the store.

import type { WeightPrecision } from '../model/weights.ts';
import type { ModelSource } from '../protocol/messages.ts';
import { libraryStore } from '../state/library.ts';
import { appStore } from '../state/store.ts';
import type { EngineClient } from '../worker/client.ts';

/** The load in flight, for Cancel; the worker's id for it arrives with its first progress reply. */
let inFlight: { engine: EngineClient; id: number | null } | null = null;

/** The last model asked for, as it was asked: loaded again on a new device after the GPU was lost. */
let last: { source: ModelSource; precision: WeightPrecision } | null = null;

export function reloadLastModel(engine: EngineClient): Promise<void> {
  return last ? loadBaseModel(engine, last.source, last.precision) : Promise.resolve();
}

function labelOf(source: ModelSource): string {
  if (source.kind === 'hub') return source.gguf ? `${source.repo}/${source.gguf}` : source.repo;
  if (source.kind === 'url') return source.name;
  const gguf = source.files.find((f) => f.name.toLowerCase().endsWith('.gguf'));
  return gguf ? gguf.name : `${source.files.length} dropped files`;
}

/** `precision`: how the frozen weights sit on the GPU ('auto': as stored, 16-bit for safetensors). */
export async function loadBaseModel(engine: EngineClient, source: ModelSource, precision: WeightPrecision = 'auto'): Promise<void> {
  last = { source, precision };
  const { modelLoading, modelLoaded, modelFailed, modelDownload, addLog } = appStore.getState();
  const label = labelOf(source);
  modelLoading(`loading ${label}`);
  modelDownload(null);
  const mine: { engine: EngineClient; id: number | null } = { engine, id: null };
  inFlight = mine;
  try {
    const info = await engine.request<'loadModel'>({ kind: 'loadModel', source, ...(precision === 'auto' ? {} : { precision }) }, (p) => {
      mine.id = p.id;
      if (p.download) modelDownload(p.download);
      if (p.message.startsWith('warning: ')) addLog('warn', `${label}: ${p.message.slice('warning: '.length)}`);
      modelLoading(p.message);
    });
    // The worker drops any applied adapter with the old model.
    libraryStore.setState({ activeAdapterId: null });
    modelLoaded(info);
    addLog('info', `model ready: ${info.name} (${info.architecture}, ${info.parameters.toLocaleString('en')} parameters)`);
  } catch (e) {
    const err = e as Error;
    modelFailed(err.message);
    if (err.name === 'AbortError') addLog('warn', err.message);
    else addLog('error', `loading ${label} failed: ${err.message}`);
  } finally {
    if (inFlight === mine) inFlight = null;
  }
}

/**
 * Asks the worker to cancel the load in flight, which then ends with an AbortError (and keeps the
 * model loaded before). false: no load to cancel, or none the worker has named yet.
 */
export async function cancelModelLoad(): Promise<boolean> {
  const load = inFlight;
  if (!load || load.id === null) return false;
  return (await load.engine.request<'cancel'>({ kind: 'cancel', targetId: load.id })).cancelled;
}
