// What training a hub model would take on the GPU, shown before it is downloaded: the frozen
// weights (in the types they would have there), the LoRA state and the activations for the current
// settings, against the budget; when it does not fit, which term to cut.

import { describeTypeCounts } from '../formats/gguf-quant.ts';
import { formatBytes } from '../util/format.ts';
import type { PlanState } from './use-model-plan.ts';
import './config.css';

/** The plan's advice names the CLI's flags; here the form's fields say the same. */
const FIELDS: [RegExp, string][] = [
  [/--base-weights (\w+)/g, '"Frozen weights on the GPU" $1'],
  [/turn on --checkpointing/g, 'recompute activations'],
  [/--seq-len/g, 'the sequence length'],
  [/--batch-size/g, 'the batch size'],
  [/--grad-accum/g, 'gradient accumulation'],
  [/--rank/g, 'the rank'],
  [/\(--targets\)/g, '(target modules)'],
];

function inAppTerms(advice: string): string {
  return FIELDS.reduce((s, [re, to]) => s.replace(re, to), advice);
}

export function ModelPlanView({ state }: { state: PlanState }) {
  if (state.status === 'idle') return null;
  if (state.status === 'error') {
    return (
      <p className="error-text" data-testid="model-plan-error" role="status">
        {state.message}
      </p>
    );
  }
  const r = state.status === 'ready' ? state.result : state.last;
  if (!r) {
    return (
      <p className="muted" data-testid="model-plan-pending">
        Reading the model&apos;s size before downloading it…
      </p>
    );
  }
  const p = r.plan;
  const read = r.from === 'config.json' ? 'config.json (weights assumed in its dtype)' : `the GGUF header (${formatBytes(r.bytesRead)} read)`;
  return (
    <div
      className={p.fits === false ? 'estimate estimate--bad' : 'estimate estimate--ok'}
      data-testid="model-plan"
      data-fits={String(p.fits)}
      data-total-bytes={p.total}
      data-weight-bytes={p.weights}
      data-stale={state.status !== 'ready'}
      aria-live="polite"
    >
      <p>
        Before downloading, from {read}: {r.architecture}, {r.parameters.toLocaleString('en')} parameters, {r.layers} layers
        {r.storedTypes && (
          <span data-testid="model-plan-stored">
            ; stored as {r.fileType ? `${r.fileType}: ` : ''}
            {describeTypeCounts(r.storedTypes)}
          </span>
        )}
        .
      </p>
      <p data-testid="model-plan-terms">
        Weights <strong>{formatBytes(p.weights)}</strong> ({describeTypeCounts(p.weightDtypes)}) + trainable state {formatBytes(p.trainable)} + activations{' '}
        {formatBytes(p.activations)} = <strong>{formatBytes(p.total)}</strong>
        {p.budget !== null && ` of a ${formatBytes(p.budget)} budget`}
        {p.fits === true && ': fits.'}
        {p.fits === null && '.'}
      </p>
      {p.advice && (
        <p className="estimate__advice" data-testid="model-plan-advice">
          {inAppTerms(p.advice)}
        </p>
      )}
    </div>
  );
}
