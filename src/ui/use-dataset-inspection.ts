// Keeps the store's dataset inspection in step with the chosen dataset, the data settings and the
// loaded model: every change asks the worker again what training would make of the file.

import { useEffect } from 'react';
import { appStore, useAppStore } from '../state/store.ts';
import { useEngine } from './engine-context.ts';
import { datasetSource } from './samples.ts';

/** Typing "512" into a number field is three changes; only the last one is worth a read of the file. */
const SETTLE_MS = 250;

export function useDatasetInspection(): void {
  const engine = useEngine();
  // The tokenizer lives in the worker with the model: no model, nothing to inspect with. While a new
  // model loads the worker still holds the old one, so wait for the new one.
  const model = useAppStore((s) => (s.modelStatus === 'ready' ? s.model : null));
  const dataset = useAppStore((s) => s.dataset);
  // Only the settings that change what the rows become; rank or learning rate do not.
  const format = useAppStore((s) => s.settings.format);
  const mask = useAppStore((s) => s.settings.mask);
  const seqLen = useAppStore((s) => s.settings.seqLen);
  const packing = useAppStore((s) => s.settings.packing);
  const valSplit = useAppStore((s) => s.settings.valSplit);
  const seed = useAppStore((s) => s.settings.seed);

  useEffect(() => {
    if (!engine || !model) return;
    // A reply to an older request (another file, other settings) must not overwrite a newer one.
    let current = true;
    const timer = setTimeout(() => {
      const { settings, inspectionStarted } = appStore.getState();
      inspectionStarted();
      engine.request<'inspectDataset'>({ kind: 'inspectDataset', dataset: datasetSource(dataset), settings: { ...settings, format, mask, seqLen, packing, valSplit, seed } }).then(
        (result) => {
          if (current) appStore.getState().inspectionDone(result);
        },
        (e: unknown) => {
          if (current) appStore.getState().inspectionFailed(e instanceof Error ? e.message : String(e));
        },
      );
    }, SETTLE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [engine, model, dataset, format, mask, seqLen, packing, valSplit, seed]);
}
