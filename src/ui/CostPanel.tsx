// LoRA against full fine-tuning for the loaded model and the current settings: what each trains,
// what each holds on the GPU, and what each leaves on disk. Estimated before the run; during and after
// one, the peak GPU memory the engine measured stands next to the estimate.

import { useMemo } from 'react';
import { useAppStore } from '../state/store.ts';
import { type CostColumn, estimateTrainingCost } from '../train/cost.ts';
import { formatBytes } from '../util/format.ts';
import './config.css';

const ROWS: { key: keyof CostColumn; label: string; count?: boolean }[] = [
  { key: 'trainableParameters', label: 'Trainable parameters', count: true },
  { key: 'weights', label: 'Weights' },
  { key: 'gradients', label: 'Gradients' },
  { key: 'optimizer', label: 'Optimizer state (AdamW m, v)' },
  { key: 'activations', label: 'Activations' },
  { key: 'total', label: 'Total GPU memory' },
  { key: 'fileBytes', label: 'File to save' },
];

export function CostPanel() {
  const model = useAppStore((s) => s.model);
  const settings = useAppStore((s) => s.settings);
  // Primitive selections: the panel re-renders when the peak grows, not at every step.
  const trainingNow = useAppStore((s) => s.training.status === 'training');
  const measuredPeak = useAppStore((s) => Math.max(s.training.latest?.peakBytes ?? 0, s.training.result?.peakBytes ?? 0));
  const est = useMemo(
    () =>
      model
        ? estimateTrainingCost(model.config, settings, { weightBytesPerElement: model.weightDtype === 'f32' ? 4 : 2, weightBytes: model.weightBytes, maxPositions: model.maxPositions })
        : null,
    [model, settings],
  );
  const measured = measuredPeak > 0 ? measuredPeak : null;
  if (!est || !model) return null;
  const runState = trainingNow ? 'so far' : 'last run';

  return (
    <section aria-label="Cost" className="cost" data-testid="cost-panel">
      <h3>Cost: LoRA against full fine-tuning</h3>
      <table className="cost__table">
        <thead>
          <tr>
            <th scope="col" />
            <th scope="col">LoRA (r={est.lora.trainableParameters > 0 ? settings.rank : '—'})</th>
            <th scope="col">Full fine-tuning</th>
          </tr>
        </thead>
        <tbody>
          {ROWS.map((r) => (
            <tr key={r.key} data-testid={`cost-${r.key}`}>
              <th scope="row">{r.label}</th>
              <td data-value={Number(est.lora[r.key])}>{show(est.lora[r.key], r.count)}</td>
              <td data-value={Number(est.full[r.key])}>{show(est.full[r.key], r.count)}</td>
            </tr>
          ))}
          {measured !== null && (
            <tr data-testid="cost-measured">
              <th scope="row">Measured peak GPU memory ({runState})</th>
              <td data-value={measured}>
                {formatBytes(measured)} <span className="muted">(estimate {formatBytes(est.lora.total)})</span>
              </td>
              <td>—</td>
            </tr>
          )}
        </tbody>
      </table>
      <p className="muted">
        LoRA keeps the base weights frozen in {frozenTypes(model.weightDtypes, model.weightDtype)} and trains {ratio(est.lora.trainableParameters, est.full.trainableParameters)} of the
        parameters in f32; its adapter file (PEFT safetensors, f32) is {ratio(est.lora.fileBytes, est.full.fileBytes)} of the full
        checkpoint. Full fine-tuning trains every weight in f32 with its own gradient and two AdamW moments. Activations are for{' '}
        {settings.batchSize} × {est.seqLen} tokens a micro-batch
        {est.lora.checkpointing ? ', with each block recomputed in the backward pass (activation checkpointing)' : ''}; gradient
        accumulation adds none.
      </p>
    </section>
  );
}

/** "Q8_0", or "Q4_K (154), Q6_K (29)" for a GGUF that mixes types. */
function frozenTypes(counts: Partial<Record<string, number>>, main: string): string {
  const types = Object.entries(counts).filter(([, n]) => (n ?? 0) > 0);
  return types.length > 1 ? types.map(([t, n]) => `${t} (${n})`).join(', ') : main;
}

function show(v: number | boolean, count?: boolean): string {
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return count ? v.toLocaleString('en') : formatBytes(v);
}

function ratio(a: number, b: number): string {
  if (b <= 0) return '—';
  const p = (100 * a) / b;
  return `${p >= 1 ? p.toFixed(1) : Number(p.toPrecision(2))}%`;
}
