// Train a LoRA adapter: pick a sample dataset (or drop a file), one click, and watch the loss.

import { useState } from 'react';
import type { DatasetSource } from '../protocol/messages.ts';
import { appStore, useAppStore } from '../state/store.ts';
import { formatBytes } from '../util/format.ts';
import { useEngine } from './engine-context.ts';
import { LossChart } from './LossChart.tsx';
import { SAMPLE_DATASETS, sampleSource } from './samples.ts';

export function TrainPanel() {
  const engine = useEngine();
  const modelReady = useAppStore((s) => s.modelStatus === 'ready');
  const training = useAppStore((s) => s.training);
  const [sample, setSample] = useState<string>(SAMPLE_DATASETS[0].file);
  const [dropped, setDropped] = useState<File | null>(null);
  const settings = useAppStore((s) => s.settings);
  const updateSettings = useAppStore((s) => s.updateSettings);
  const steps = settings.steps;
  if (!engine) return null;
  const busy = training.status === 'training';
  const last = [...training.points].reverse().find((p) => p.loss !== undefined);
  const r = training.result;

  async function download(format: 'peft' | 'gguf') {
    if (!engine) return;
    try {
      const file = await engine.request<'exportAdapter'>({ kind: 'exportAdapter', format });
      const url = URL.createObjectURL(new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.mimeType }));
      const a = document.createElement('a');
      a.href = url;
      a.download = file.fileName;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      appStore.getState().addLog('error', `download failed: ${(e as Error).message}`);
    }
  }

  async function start() {
    if (!engine) return;
    const { trainingStarted, trainingProgress, trainingDone, trainingFailed } = appStore.getState();
    const dataset: DatasetSource = dropped ? { kind: 'file', file: dropped } : sampleSource(sample);
    trainingStarted();
    let done = false;
    try {
      const result = await engine.request<'train'>({ kind: 'train', dataset, settings: { ...settings, evalEvery: Math.max(1, Math.round(steps / 4)) } }, (p) => {
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
      <div className="row">
        <label>
          Dataset{' '}
          <select aria-label="Sample dataset" value={sample} disabled={busy || dropped !== null} onChange={(e) => setSample(e.target.value)}>
            {SAMPLE_DATASETS.map((d) => (
              <option key={d.file} value={d.file}>
                {d.label}
              </option>
            ))}
          </select>
        </label>
        <input type="file" accept=".jsonl,.json,.csv,.tsv,.txt" disabled={busy} data-testid="dataset-file" onChange={(e) => setDropped(e.target.files?.[0] ?? null)} />
        <label>
          Steps{' '}
          <input type="number" min={1} max={100000} value={steps} disabled={busy} onChange={(e) => updateSettings({ steps: Math.max(1, Number(e.target.value) || 1) })} />
        </label>
      </div>
      <p className="muted">
        LoRA r={settings.rank}, alpha {settings.alpha} (scaling alpha/r = {settings.alpha / settings.rank}) on all
        linear layers, learning rate {settings.lr}, steps of {settings.batchSize} rows,{' '}
        {Math.round(settings.valSplit * 100)}% held out for validation.
      </p>
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
      {r && (
        <div className="row">
          <button type="button" onClick={() => void download('peft')} data-testid="download-peft">
            Download PEFT adapter (.zip)
          </button>
          <button type="button" onClick={() => void download('gguf')} data-testid="download-gguf">
            Download GGUF LoRA (llama.cpp)
          </button>
        </div>
      )}
    </section>
  );
}
