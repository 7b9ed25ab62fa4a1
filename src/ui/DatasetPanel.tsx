// The dataset for the next run: drop or pick a file (or use a sample), choose how it is read, masked,
// truncated, packed and split, and see what training will make of it before it starts.

import { useState } from 'react';
import type { DatasetFormat } from '../data/types.ts';
import type { MaskMode } from '../data/tokenize.ts';
import { useAppStore } from '../state/store.ts';
import { DatasetReport } from './DatasetReport.tsx';
import { DropZone } from './DropZone.tsx';
import { SAMPLE_DATASETS } from './samples.ts';
import { useDatasetInspection } from './use-dataset-inspection.ts';

const FORMATS: { value: DatasetFormat | 'auto'; label: string }[] = [
  { value: 'auto', label: 'Detect from the file' },
  { value: 'text', label: 'Plain text' },
  { value: 'completion', label: 'Prompt / completion' },
  { value: 'chat', label: 'Chat messages' },
  { value: 'alpaca', label: 'Alpaca (instruction / output)' },
  { value: 'tokens', label: 'Pre-tokenized (input_ids)' },
];

const MASKS: { value: MaskMode; label: string }[] = [
  { value: 'prompt', label: 'Train on completions / assistant turns' },
  { value: 'last-turn', label: 'Train on the last assistant turn' },
  { value: 'none', label: 'Train on every token' },
];

/** The select's value for "the file the user picked" (sample file names never look like this). */
const OWN_FILE = ':file';

const ACCEPT = '.jsonl,.ndjson,.json,.csv,.tsv,.txt';

export function DatasetPanel() {
  useDatasetInspection();
  const dataset = useAppStore((s) => s.dataset);
  const setDataset = useAppStore((s) => s.setDataset);
  const settings = useAppStore((s) => s.settings);
  const updateSettings = useAppStore((s) => s.updateSettings);
  const inspection = useAppStore((s) => s.inspection);
  const modelReady = useAppStore((s) => s.modelStatus === 'ready');
  const busy = useAppStore((s) => s.training.status === 'training');
  // The last file picked stays an option after switching to a sample, so switching back needs no new pick.
  const [ownFile, setOwnFile] = useState<File | null>(dataset.kind === 'file' ? dataset.file : null);

  function chooseFile(file: File) {
    setOwnFile(file);
    setDataset({ kind: 'file', file });
  }

  return (
    <div className="dataset-panel" data-testid="dataset-panel" data-inspection-status={inspection.status}>
      <h3>Dataset</h3>
      <DropZone label="Drop a dataset" disabled={busy} onFile={chooseFile}>
        <p className="drop-zone__hint">Drop a JSONL, JSON, CSV, TSV or TXT file here, or pick one:</p>
        <div className="row">
          <input
            type="file"
            accept={ACCEPT}
            aria-label="Dataset file"
            data-testid="dataset-file"
            disabled={busy}
            onChange={(e) => {
              const file = e.target.files?.[0];
              // Cleared so that picking the same file again (after fixing it) reads it again.
              e.target.value = '';
              if (file) chooseFile(file);
            }}
          />
          <select
            aria-label="Sample dataset"
            value={dataset.kind === 'sample' ? dataset.file : OWN_FILE}
            disabled={busy}
            onChange={(e) => {
              const v = e.target.value;
              if (v === OWN_FILE) {
                if (ownFile) setDataset({ kind: 'file', file: ownFile });
              } else {
                setDataset({ kind: 'sample', file: v });
              }
            }}
          >
            {ownFile && <option value={OWN_FILE}>Your file: {ownFile.name}</option>}
            {SAMPLE_DATASETS.map((d) => (
              <option key={d.file} value={d.file}>
                {d.label}
              </option>
            ))}
          </select>
        </div>
      </DropZone>
      <div className="dataset-settings">
        <label>
          Format{' '}
          <select aria-label="Format" value={settings.format} disabled={busy} onChange={(e) => updateSettings({ format: e.target.value as DatasetFormat | 'auto' })}>
            {FORMATS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Masking{' '}
          <select aria-label="Masking" value={settings.mask} disabled={busy} onChange={(e) => updateSettings({ mask: e.target.value as MaskMode })}>
            {MASKS.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Max length{' '}
          <NumberField label="Max length (tokens)" value={settings.seqLen} min={2} max={131072} disabled={busy} onCommit={(n) => updateSettings({ seqLen: Math.round(n) })} />
        </label>
        <label>
          <input type="checkbox" aria-label="Packing" checked={settings.packing} disabled={busy} onChange={(e) => updateSettings({ packing: e.target.checked })} /> Packing
        </label>
        <label>
          Validation split{' '}
          <NumberField
            label="Validation split (%)"
            value={Math.round(settings.valSplit * 1000) / 10}
            min={0}
            max={90}
            disabled={busy}
            onCommit={(n) => updateSettings({ valSplit: n / 100 })}
          />
          %
        </label>
      </div>
      {!modelReady && <p className="muted">Load a base model to see what training makes of this dataset: its tokenizer decides the rows.</p>}
      {modelReady && inspection.status === 'inspecting' && (
        <p className="muted" data-testid="dataset-inspecting">
          Reading the dataset…
        </p>
      )}
      {inspection.status === 'error' && inspection.message && (
        <p className="error-text" data-testid="dataset-error">
          {inspection.message}
        </p>
      )}
      {inspection.result && <DatasetReport result={inspection.result} detected={settings.format === 'auto'} seqLen={settings.seqLen} />}
    </div>
  );
}

interface NumberFieldProps {
  label: string;
  value: number;
  min: number;
  max: number;
  disabled: boolean;
  onCommit(n: number): void;
}

/**
 * A number input that commits only values in range. The text being typed is kept apart, so that
 * "512" can be typed through "5" and "51" (or a field emptied first) without being clamped midway.
 */
function NumberField({ label, value, min, max, disabled, onCommit }: NumberFieldProps) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      type="number"
      aria-label={label}
      min={min}
      max={max}
      value={draft ?? String(value)}
      disabled={disabled}
      onChange={(e) => {
        const text = e.target.value;
        setDraft(text);
        const n = Number(text);
        if (text.trim() !== '' && Number.isFinite(n) && n >= min && n <= max) onCommit(n);
      }}
      onBlur={() => setDraft(null)}
    />
  );
}
