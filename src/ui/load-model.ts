// Loads a base model through the worker and mirrors the outcome in the store.

import type { ModelSource } from '../protocol/messages.ts';
import { appStore } from '../state/store.ts';
import type { EngineClient } from '../worker/client.ts';

export async function loadBaseModel(engine: EngineClient, source: ModelSource): Promise<void> {
  const { modelLoading, modelLoaded, modelFailed, addLog } = appStore.getState();
  const label = source.kind === 'hub' ? source.repo : source.kind === 'url' ? source.name : `${source.files.length} dropped files`;
  modelLoading(`loading ${label}`);
  // Progress travels through its own comlink proxy and can arrive after the final reply.
  let done = false;
  try {
    const info = await engine.request<'loadModel'>({ kind: 'loadModel', source }, (p) => {
      if (!done) modelLoading(p.message);
    });
    done = true;
    modelLoaded(info);
    addLog('info', `model ready: ${info.name} (${info.architecture}, ${info.parameters.toLocaleString('en')} parameters)`);
  } catch (e) {
    done = true;
    const message = (e as Error).message;
    modelFailed(message);
    addLog('error', `loading ${label} failed: ${message}`);
  }
}
