// Train a LoRA adapter: pick a sample dataset (or drop a file), one click, and watch the loss.

import type { DatasetSource } from '../protocol/messages.ts';
import { appStore, useAppStore } from '../state/store.ts';
import { formatBytes } from '../util/format.ts';
import { useEngine } from './engine-context.ts';
import { DownloadButtons } from './DownloadButtons.tsx';
import { LossChart } from './LossChart.tsx';
import { TrainConfigForm } from './TrainConfigForm.tsx';
import { CostPanel } from './CostPanel.tsx';
import { DatasetPanel } from './DatasetPanel.tsx';
import { datasetSource } from './samples.ts';

export function TrainPanel() {
  const engine = useEngine();
  const modelReady = useAppStore((s) => s.modelStatus === 'ready');
  const training = useAppStore((s) => s.training);
  const settings = useAppStore((s) => s.settings);
  const steps = settings.steps;
  if (!engine) return null;
  const busy = training.status === 'training';
  const last = [...training.points].reverse().find((p) => p.loss !== undefined);
  const r = training.result;

  async function start() {
    if (!engine) return;
    const { trainingStarted, trainingProgress, trainingDone, trainingFailed } = appStore.getState();
    const dataset: DatasetSource = datasetSource(appStore.getState().dataset);
    trainingStarted();
    let done = false;
    try {
      const result = await engine.request<'train'>({ kind: 'train', dataset, settings: { ...settings, evalEvery: steps > 0 ? Math.max(1, Math.round(steps / 4)) : settings.evalEvery } }, (p) => {
        if (!done) trainingProgress(p.message, p.metrics);
      });
      done = true;
      trainingDone(result);
    } catch (e) {
      done = true;
      trainingFailed((e as Error).message);
    }
  }

  return (
    <section className="card" data-testid="train-panel" data-train-status={training.status}>
      <h2>Train a LoRA adapter</h2>
      <DatasetPanel />
      <TrainConfigForm />
      <CostPanel />
      <button type="button" disabled={!modelReady || busy} onClick={() => void start()} data-testid="train">
        {busy ? 'Training…' : 'Train'}
      </button>
      {training.message && <p className={training.status === 'error' ? 'error-text' : 'muted'} data-testid="train-message">{training.message}</p>}
      {last && (
        <p className="muted" data-testid="train-progress">
          step {last.step}/{last.totalSteps} · loss {last.loss?.toFixed(4)} · {last.tokensPerSecond?.toFixed(0)} tokens/s · ETA{' '}
          {((last.etaMs ?? 0) / 1000).toFixed(0)} s · GPU memory {formatBytes(last.peakBytes ?? 0)}
        </p>
      )}
      {training.points.length > 0 && <LossChart points={training.points} />}
      {r && (
        <p data-testid="train-result" data-val-before={r.valLossBefore ?? ''} data-val-after={r.valLossAfter ?? ''}>
          Trained {r.trainableParameters.toLocaleString('en')} parameters in {(r.elapsedMs / 1000).toFixed(1)} s on {r.trainRows} rows. Validation loss{' '}
          {r.valLossBefore?.toFixed(4)} → {r.valLossAfter?.toFixed(4)}.
        </p>
      )}
      {r && <DownloadButtons />}
    </section>
  );
}
