// The live status line: a `role="status"` region, so screen readers (and tests) hear each step.

import { useAppStore } from '../state/store.ts';
import { formatBytes } from '../util/format.ts';

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function TrainingStatus() {
  const t = useAppStore((s) => s.training);
  const m = t.latest;
  const lastVal = t.points.findLast((p) => p.valLoss !== undefined)?.valLoss;
  const parts: string[] = [];
  if (m && m.loss !== undefined) {
    parts.push(`step ${m.step}/${m.totalSteps}`, `loss ${m.loss.toFixed(4)}`);
    if (lastVal !== undefined) parts.push(`validation ${lastVal.toFixed(4)}`);
    if (m.epoch !== undefined) parts.push(`epoch ${m.epoch.toFixed(2)}`);
    if (m.lr !== undefined) parts.push(`lr ${m.lr.toExponential(2)}`);
    if (m.tokensPerSecond !== undefined) parts.push(`${m.tokensPerSecond.toFixed(0)} tokens/s`);
    if (m.elapsedMs !== undefined) parts.push(`elapsed ${duration(m.elapsedMs)}`);
    if (m.etaMs !== undefined && t.status === 'training') parts.push(`ETA ${duration(m.etaMs)}`);
    if (m.peakBytes !== undefined) parts.push(`peak GPU memory ${formatBytes(m.peakBytes)}`);
  }
  const state = t.status === 'paused' ? 'paused' : t.status === 'error' ? 'failed' : t.pending ? `${t.pending === 'pause' ? 'pausing' : 'stopping'} after this step` : null;
  return (
    <p role="status" className={t.status === 'error' ? 'error-text' : 'muted'} data-testid="train-progress">
      {[state, ...parts].filter(Boolean).join(' · ')}
      {t.message && (parts.length === 0 || t.status === 'error') && <span data-testid="train-message">{parts.length ? ' · ' : ''}{t.message}</span>}
    </p>
  );
}
