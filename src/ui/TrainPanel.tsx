// Train a LoRA adapter: dataset, settings and cost, then Start / Pause / Resume / Stop with a live
// status line, loss chart (with other runs overlaid) and a sample generation at each validation.
// The panel itself re-renders only when the run's state changes; per-step figures go to LiveTraining.

import { memo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { canResume, useLibrary } from '../state/library.ts';
import { useAppStore } from '../state/store.ts';
import { formatBytes } from '../util/format.ts';
import { useEngine } from './engine-context.ts';
import { CostPanel } from './CostPanel.tsx';
import { DatasetPanel } from './DatasetPanel.tsx';
import { DownloadButtons } from './DownloadButtons.tsx';
import { LiveTraining } from './LiveTraining.tsx';
import { TrainConfigForm } from './TrainConfigForm.tsx';
import { controlTraining, resumeRun, startTraining } from './training-actions.ts';

// The setup panels follow their own store selections; a change of the run's state must not redraw them.
const Dataset = memo(DatasetPanel);
const Config = memo(TrainConfigForm);
const Cost = memo(CostPanel);
const Live = memo(LiveTraining);

export function TrainPanel() {
  const engine = useEngine();
  const modelReady = useAppStore((s) => s.modelStatus === 'ready');
  const { status, runId, pending, result: r } = useAppStore(
    useShallow((s) => ({ status: s.training.status, runId: s.training.runId, pending: s.training.pending, result: s.training.result })),
  );
  const run = useLibrary((s) => s.runs.find((x) => x.id === runId));
  if (!engine) return null;
  const busy = status === 'training';
  const resumable = !busy && run !== undefined && canResume(run);

  return (
    <section className="card" data-testid="train-panel" data-train-status={status}>
      <h2>Train a LoRA adapter</h2>
      <Dataset />
      <Config />
      <Cost />
      <div className="row" role="group" aria-label="Training controls">
        <button type="button" disabled={!modelReady || busy} onClick={() => void startTraining(engine)} data-testid="train">
          Start training
        </button>
        <button type="button" disabled={!busy || pending !== null} onClick={() => void controlTraining(engine, 'pause')}>
          {pending === 'pause' ? 'Pausing…' : 'Pause'}
        </button>
        <button type="button" disabled={!resumable || !modelReady} onClick={() => run && void resumeRun(engine, run)}>
          Resume
        </button>
        <button type="button" disabled={!busy || pending !== null} onClick={() => void controlTraining(engine, 'stop')}>
          {pending === 'stop' ? 'Stopping…' : 'Stop'}
        </button>
      </div>
      <Live />
      {r && (
        <p data-testid="train-result" data-val-before={r.valLossBefore ?? ''} data-val-after={r.valLossAfter ?? ''}>
          {r.status === 'paused' ? 'Paused after' : r.status === 'stopped' ? 'Stopped after' : 'Trained'} {r.steps} steps:{' '}
          {r.trainableParameters.toLocaleString('en')} parameters on {r.trainRows} rows in {(r.elapsedMs / 1000).toFixed(1)} s, peak GPU memory{' '}
          {formatBytes(r.peakBytes)}.
          {r.valLossBefore !== null && r.valLossAfter !== null && ` Validation loss ${r.valLossBefore.toFixed(4)} → ${r.valLossAfter.toFixed(4)}.`}
        </p>
      )}
      {r && r.status !== 'paused' && <DownloadButtons />}
    </section>
  );
}
