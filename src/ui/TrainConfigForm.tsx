// The training configuration, bound to the store's settings: LoRA shape, optimizer, batch shape,
// presets, and before the run the trainable-parameter count and whether the memory will fit.

import { useId, useMemo } from 'react';
import type { ModelConfig } from '../model/config.ts';
import type { TrainSettings } from '../protocol/messages.ts';
import { QUALITY_PRESET, QUICK_PRESET } from '../state/presets.ts';
import { useAppStore } from '../state/store.ts';
import { type CostEstimate, type CostOptions, type FitCheck, type MemoryLimits, checkFit, estimateTrainingCost, largestFitting } from '../train/cost.ts';
import { formatBytes } from '../util/format.ts';
import { configGuidance } from './config-guidance.ts';
import { useBudget } from './gpu-budget.ts';
import { NumberField } from './NumberField.tsx';
import './config.css';

/** The settings this form owns; a preset changes only these (the dataset panel owns the rest). */
const FORM_KEYS = ['rank', 'alpha', 'dropout', 'rslora', 'targets', 'lr', 'schedule', 'warmup', 'steps', 'epochs', 'batchSize', 'gradAccum', 'seqLen', 'seed', 'evalEvery'] as const;
type FormSettings = Pick<TrainSettings, (typeof FORM_KEYS)[number]>;

const PRESETS: { name: string; settings: TrainSettings; hint: string }[] = [
  { name: 'Quick test', settings: QUICK_PRESET, hint: 'a short run to check that everything works' },
  { name: 'Quality', settings: QUALITY_PRESET, hint: 'higher rank, several epochs, warmup and cosine decay' },
];

function pick(s: TrainSettings): FormSettings {
  return Object.fromEntries(FORM_KEYS.map((k) => [k, s[k]])) as FormSettings;
}

function samePreset(a: TrainSettings, b: TrainSettings): boolean {
  return FORM_KEYS.every((k) => (k === 'targets' ? [...a.targets].sort().join() === [...b.targets].sort().join() : a[k] === b[k]));
}

/** 2, 5.657: enough digits to see the number, no float noise. */
const short = (x: number) => String(Number(x.toPrecision(4)));

/** 8.3%, 0.45%: two figures are enough to compare. */
function percent(a: number, b: number): string {
  const p = (100 * a) / b;
  return `${p >= 1 ? p.toFixed(1) : Number(p.toPrecision(2))}%`;
}

export interface TrainConfigFormProps {
  /** Tokens one pass over the training rows trains on; default: from the dataset panel's inspection. */
  datasetTokens?: number | null;
}

export function TrainConfigForm({ datasetTokens }: TrainConfigFormProps) {
  const settings = useAppStore((s) => s.settings);
  const update = useAppStore((s) => s.updateSettings);
  const model = useAppStore((s) => s.model);
  const limits = useAppStore((s) => s.limits);
  const busy = useAppStore((s) => s.training.status === 'training');
  // The dataset panel's inspection counts trained tokens over all rows; the training split's share is what trains.
  const inspectedTokens = useAppStore((s) => {
    const r = s.inspection.result;
    return r ? Math.round((r.stats.trainedTokens * r.trainRows) / Math.max(1, r.trainRows + r.valRows)) : null;
  });
  const budgetGiB = useBudget((s) => s.budgetGiB);
  const setBudgetGiB = useBudget((s) => s.setBudgetGiB);
  const id = useId();

  const modules = useMemo(() => model?.linearModules ?? [], [model]);
  const cost = useMemo(() => {
    if (!model) return null;
    const o: CostOptions = { weightBytesPerElement: model.weightDtype === 'f32' ? 4 : 2, weightBytes: model.weightBytes, maxPositions: model.maxPositions };
    return { cfg: model.config, o, est: estimateTrainingCost(model.config, settings, o) };
  }, [model, settings]);
  const bufferBytes = limits ? Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) : null;
  const budgetBytes = budgetGiB * 2 ** 30;
  const check = useMemo(() => {
    if (!cost || bufferBytes === null) return null;
    const lim: MemoryLimits = { bufferBytes, budgetBytes };
    const fit = checkFit(cost.est.lora, lim);
    return { lim, fit, advice: fit.fits ? [] : fitAdvice(cost.cfg, cost.est, settings, cost.o, lim, fit) };
  }, [cost, bufferBytes, budgetBytes, settings]);

  const guidance = configGuidance({
    settings,
    trainableParameters: cost?.est.lora.trainableParameters ?? 0,
    modules,
    cfg: model?.config ?? null,
    maxPositions: model?.maxPositions,
    datasetTokens: datasetTokens ?? inspectedTokens,
  });

  const scaling = settings.rslora ? settings.alpha / Math.sqrt(settings.rank) : settings.alpha / settings.rank;
  const toggleTarget = (m: string, on: boolean) =>
    update({ targets: on ? [...settings.targets.filter((t) => t !== m), m] : settings.targets.filter((t) => t !== m) });

  return (
    <div className="config" data-testid="train-config">
      <div className="row" role="group" aria-label="Presets">
        <span className="muted">Presets:</span>
        {PRESETS.map((p) => (
          <button
            key={p.name}
            type="button"
            className="button--secondary"
            disabled={busy}
            aria-pressed={samePreset(settings, p.settings)}
            title={p.hint}
            onClick={() => update(pick(p.settings))}
          >
            {p.name}
          </button>
        ))}
      </div>

      <fieldset className="config__group" disabled={busy}>
        <legend>LoRA</legend>
        <div className="config__fields">
          <NumberField label="Rank" integer min={1} max={4096} value={settings.rank} onCommit={(rank) => update({ rank })} describedBy={`${id}-scaling`} />
          <NumberField label="Alpha" min={0} step="any" check={(x) => x > 0} value={settings.alpha} onCommit={(alpha) => update({ alpha })} describedBy={`${id}-scaling`} />
          <NumberField label="Dropout" min={0} max={0.99} step={0.05} value={settings.dropout} onCommit={(dropout) => update({ dropout })} />
          <label className="field field--check">
            <input type="checkbox" checked={settings.rslora} onChange={(e) => update({ rslora: e.target.checked })} aria-describedby={`${id}-scaling`} />
            <span>rsLoRA</span>
          </label>
        </div>
        <p className="muted" id={`${id}-scaling`} data-testid="lora-scaling" data-scaling={scaling}>
          {settings.rslora ? (
            <>
              Scaling = alpha / √r = {short(settings.alpha)} / √{settings.rank} = <strong>{short(scaling)}</strong> (rsLoRA): the
              update B·A·x is multiplied by it, and dividing by √r keeps high ranks learning as fast as low ones.
            </>
          ) : (
            <>
              Scaling = alpha / r = {short(settings.alpha)} / {settings.rank} = <strong>{short(scaling)}</strong>: the update
              B·A·x is multiplied by it, so raising r at a fixed alpha makes each step smaller (keep alpha ≈ 2r).
            </>
          )}
        </p>
        {modules.length > 0 ? (
          <fieldset className="config__modules">
            <legend>Target modules</legend>
            {modules.map((m) => (
              <label key={m} className="field--check">
                <input type="checkbox" checked={settings.targets.includes(m)} onChange={(e) => toggleTarget(m, e.target.checked)} />
                <span className="mono">{m}</span>
              </label>
            ))}
          </fieldset>
        ) : (
          <p className="muted">Load a model to choose its target modules.</p>
        )}
      </fieldset>

      <fieldset className="config__group" disabled={busy}>
        <legend>Optimization</legend>
        <div className="config__fields">
          <NumberField label="Learning rate" min={0} step="any" check={(x) => x > 0} value={settings.lr} onCommit={(lr) => update({ lr })} />
          <span className="field">
            {/* Not wrapped: a wrapping label's text would take in the option names. */}
            <label htmlFor={`${id}-schedule`}>Schedule</label>
            <select id={`${id}-schedule`} value={settings.schedule} onChange={(e) => update({ schedule: e.target.value as TrainSettings['schedule'] })}>
              <option value="constant">constant</option>
              <option value="linear">linear</option>
              <option value="cosine">cosine</option>
            </select>
          </span>
          {/* Named "Warmup", not "Warmup steps": Playwright's getByLabel('Steps') matches substrings. */}
          <NumberField label="Warmup" integer min={0} value={settings.warmup} onCommit={(warmup) => update({ warmup })} suffix={<span className="muted">steps</span>} />
          <NumberField
            label="Steps"
            integer
            min={0}
            max={1_000_000}
            value={settings.steps}
            onCommit={(steps) => update({ steps })}
            describedBy={`${id}-steps`}
            suffix={
              <span className="muted" id={`${id}-steps`}>
                0 = use epochs
              </span>
            }
          />
          <NumberField label="Epochs" integer min={1} max={1000} value={settings.epochs} onCommit={(epochs) => update({ epochs })} />
          <NumberField label="Batch size" integer min={1} max={1_000_000} value={settings.batchSize} onCommit={(batchSize) => update({ batchSize })} />
          <NumberField
            label="Gradient accumulation"
            integer
            min={1}
            max={1024}
            value={settings.gradAccum}
            onCommit={(gradAccum) => update({ gradAccum })}
            suffix={<span className="muted">= {(settings.batchSize * settings.gradAccum).toLocaleString('en')} rows a step</span>}
          />
          <NumberField label="Sequence length" integer min={1} max={1_000_000} value={settings.seqLen} onCommit={(seqLen) => update({ seqLen })} />
          <NumberField label="Seed" integer min={0} max={2 ** 32 - 1} value={settings.seed} onCommit={(seed) => update({ seed })} />
        </div>
      </fieldset>

      {cost ? (
        <div className="config__estimate">
          <p data-testid="trainable-count" data-count={cost.est.lora.trainableParameters}>
            Trainable parameters: <strong>{cost.est.lora.trainableParameters.toLocaleString('en')}</strong>{' '}
            <span className="muted">
              ({percent(cost.est.lora.trainableParameters, cost.est.full.trainableParameters)} of the model&apos;s{' '}
              {cost.est.full.trainableParameters.toLocaleString('en')})
            </span>
          </p>
          {check && limits && (
            <div
              className={check.fit.fits ? 'estimate estimate--ok' : 'estimate estimate--bad'}
              data-testid="memory-estimate"
              data-fits={String(check.fit.fits)}
              data-total-bytes={cost.est.lora.total}
              aria-live="polite"
            >
              <p>
                Estimated GPU memory: <strong>{formatBytes(cost.est.lora.total)}</strong> of a {formatBytes(budgetBytes)} budget
                {!check.fit.totalFits && <strong> (over)</strong>}; largest buffer {formatBytes(cost.est.lora.largestBuffer)} of{' '}
                {formatBytes(check.lim.bufferBytes)} allowed{!check.fit.bufferFits && <strong> (over)</strong>}
                {check.fit.fits ? ': fits.' : ': will not fit.'}
              </p>
              {!check.fit.fits && (
                <ul className="estimate__advice" data-testid="memory-advice">
                  {check.advice.map((a) => (
                    <li key={a}>{a}</li>
                  ))}
                </ul>
              )}
              <p className="muted">
                WebGPU does not tell how much memory the GPU has, so the total (weights, LoRA state, activations) is compared with
                the budget here, and the largest single buffer with the device&apos;s maxStorageBufferBindingSize (
                {formatBytes(limits.maxStorageBufferBindingSize)}) and maxBufferSize ({formatBytes(limits.maxBufferSize)}).
              </p>
              <NumberField label="GPU memory budget (GiB)" min={0.25} max={1024} step={0.5} value={budgetGiB} onCommit={setBudgetGiB} />
            </div>
          )}
        </div>
      ) : (
        <p className="muted">Load a model to see the trainable parameters and the memory estimate.</p>
      )}

      {guidance.length > 0 && (
        <div role="note" aria-label="Configuration warnings" className="config__warnings" data-testid="config-warnings">
          <ul>
            {guidance.map((g) => (
              <li key={g.text} className={g.level === 'error' ? 'error-text' : 'warn-text'} data-level={g.level}>
                {g.text}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

/** What to change, concretely, when the run will not fit. */
function fitAdvice(cfg: ModelConfig, est: CostEstimate, s: TrainSettings, o: CostOptions, lim: MemoryLimits, fit: FitCheck): string[] {
  const lora = est.lora;
  const out: string[] = [];
  const b = largestFitting(cfg, s, o, lim, 'batchSize');
  const t = largestFitting(cfg, s, o, lim, 'seqLen');
  if (b > 0 && b < s.batchSize) {
    const rows = s.batchSize * s.gradAccum;
    out.push(`Lower the batch size to ${b} or less (gradient accumulation ${Math.ceil(rows / b)} keeps about ${rows} rows a step).`);
  }
  if (t > 0 && t < est.seqLen) out.push(`Lower the sequence length to ${t} or less.`);
  if (b === 0 && t === 0) out.push(`Even one row of one token does not fit: the weights alone take ${formatBytes(lora.weights)}; pick a smaller model.`);
  // The rank matters only when the LoRA state is a real share of the total; usually activations dominate.
  if (lora.gradients + lora.optimizer > 0.1 * lora.total) out.push(`Lower the rank (the LoRA state takes ${formatBytes(4 * lora.gradients)}).`);
  if (!fit.totalFits) out.push('If this GPU has more memory than the budget, raise the budget.');
  return out;
}
