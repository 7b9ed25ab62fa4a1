// Saved runs: what each trained, how far it got and how it went; Resume continues a paused or
// interrupted run from its checkpoint, Compare overlays its curve on the chart.

import { type AppRun, canResume, deleteRun, toggleCompare, useLibrary } from '../state/library.ts';
import { useAppStore } from '../state/store.ts';
import { useEngine } from './engine-context.ts';
import { resumeRun } from './training-actions.ts';

function lastLoss(run: AppRun, key: 'loss' | 'valLoss'): number | undefined {
  return run.metrics.findLast((m) => m[key] !== undefined)?.[key];
}

/** A run saved as 'running' whose tab went away was interrupted. */
function statusText(run: AppRun, live: boolean): string {
  if (run.status === 'running' && !live) return 'interrupted';
  return run.status;
}

export function RunList() {
  const engine = useEngine();
  const runs = useLibrary((s) => s.runs);
  const compare = useLibrary((s) => s.compare);
  const busy = useAppStore((s) => s.training.status === 'training');
  const liveRunId = useAppStore((s) => s.training.runId);
  const modelReady = useAppStore((s) => s.modelStatus === 'ready');
  if (!engine) return null;
  return (
    <section className="card" data-testid="run-list">
      <h2>Runs</h2>
      {runs.length === 0 ? (
        <p className="muted">No saved runs yet: runs are kept in this browser as they train.</p>
      ) : (
        <ul aria-label="Runs" className="library">
          {runs.map((run) => {
            const live = busy && liveRunId === run.id;
            const loss = lastLoss(run, 'loss');
            const val = lastLoss(run, 'valLoss');
            return (
              <li key={run.id} data-run-id={run.id} data-status={statusText(run, live)} data-step={run.step}>
                <strong>{run.name}</strong> · {run.baseModel} · {statusText(run, live)} at step {run.step}/{run.totalSteps}
                {loss !== undefined && ` · loss ${loss.toFixed(4)}`}
                {val !== undefined && ` · validation ${val.toFixed(4)}`} · {new Date(run.createdAt).toLocaleString()}
                {run.error && <span className="error-text"> · {run.error}</span>}{' '}
                <label>
                  <input type="checkbox" checked={compare.includes(run.id)} onChange={() => toggleCompare(run.id)} /> Compare
                </label>{' '}
                <button type="button" disabled={busy || !modelReady || !canResume(run)} onClick={() => void resumeRun(engine, run)} aria-label={`Resume ${run.name}`}>
                  Resume
                </button>{' '}
                <button type="button" disabled={live} onClick={() => void deleteRun(run.id)} aria-label={`Delete run ${run.name}`}>
                  Delete
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
