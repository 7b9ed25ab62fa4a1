// Start, pause, resume and stop, as the buttons and the run list call them: each sends one request
// to the worker and feeds its replies to the store; the library is re-read when a run changes.

import type { TrainMetrics, TrainResult } from '../protocol/messages.ts';
import { type AppRun, refreshLibrary } from '../state/library.ts';
import { appStore } from '../state/store.ts';
import type { EngineClient } from '../worker/client.ts';
import { reloadLastModel } from './load-model.ts';
import { datasetSource } from './samples.ts';

async function follow(engine: EngineClient, run: (onProgress: (m: string, metrics?: TrainMetrics) => void) => Promise<TrainResult>): Promise<void> {
  const { trainingProgress, trainingDone, trainingFailed } = appStore.getState();
  try {
    const result = await run((message, metrics) => {
      // Warnings (a full disk, skipped rows) outlive the status line, which the next step overwrites.
      if (message.startsWith('warning: ')) appStore.getState().addLog('warn', message.slice('warning: '.length));
      trainingProgress(message, metrics);
      if (metrics?.step === 0 && metrics.runId) void refreshLibrary();
    });
    trainingDone(result);
    if (result.storageProblem) appStore.getState().addLog('warn', `this run is not saved: ${result.storageProblem}`);
  } catch (e) {
    trainingFailed((e as Error).message);
    // The worker opens a new device on the next request; the model goes back on it so Resume can run.
    if ((e as Error).name === 'DeviceLostError') await reloadLastModel(engine);
  }
  await refreshLibrary();
}

export function startTraining(engine: EngineClient): Promise<void> {
  const { settings, dataset, trainingStarted } = appStore.getState();
  trainingStarted();
  return follow(engine, (onProgress) =>
    engine.request<'train'>({ kind: 'train', dataset: datasetSource(dataset), settings }, (p) => onProgress(p.message, p.metrics)),
  );
}

/** Continues a saved run from its checkpoint; the chart starts from the run's saved curve. */
export function resumeRun(engine: EngineClient, run: AppRun): Promise<void> {
  const points: TrainMetrics[] = run.metrics.map((m) => ({ ...m, totalSteps: run.totalSteps }));
  appStore.getState().trainingStarted(points, run.id);
  return follow(engine, (onProgress) => engine.request<'resumeTraining'>({ kind: 'resumeTraining', runId: run.id }, (p) => onProgress(p.message, p.metrics)));
}

export async function controlTraining(engine: EngineClient, action: 'pause' | 'stop'): Promise<void> {
  appStore.getState().trainingPending(action);
  const { accepted } = await engine.request<'controlTraining'>({ kind: 'controlTraining', action });
  if (!accepted) appStore.getState().addLog('warn', `nothing to ${action}: no run is training`);
}
