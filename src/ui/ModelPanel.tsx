// The base model: the bundled demo (default, offline), a Hugging Face repo id, or dropped files.

import { useState } from 'react';
import { useAppStore } from '../state/store.ts';
import { demoModelSource } from './demo.ts';
import { useEngine } from './engine-context.ts';
import { formatBytes } from '../util/format.ts';
import { loadBaseModel } from './load-model.ts';

export function ModelPanel() {
  const engine = useEngine();
  const model = useAppStore((s) => s.model);
  const status = useAppStore((s) => s.modelStatus);
  const message = useAppStore((s) => s.modelMessage);
  const [repo, setRepo] = useState('HuggingFaceTB/SmolLM2-135M-Instruct');
  const busy = status === 'loading';
  if (!engine) return null;

  return (
    <section className="card" data-testid="model-panel" data-model-status={status}>
      <h2>Base model</h2>
      {model ? (
        <dl className="facts" data-testid="model-info">
          <dt>Name</dt>
          <dd data-testid="model-name">{model.name}</dd>
          <dt>Architecture</dt>
          <dd>{model.architecture}</dd>
          <dt>Parameters</dt>
          <dd data-testid="model-parameters">{model.parameters.toLocaleString('en')}</dd>
          <dt>Layers · hidden · vocabulary</dt>
          <dd>
            {model.layers} · {model.hiddenSize} · {model.vocabSize.toLocaleString('en')}
          </dd>
          <dt>Weights on the GPU</dt>
          <dd>
            {formatBytes(model.weightBytes)} in {model.weightDtype}
            {model.checkpointDtype && <span className="muted"> (checkpoint: {model.checkpointDtype})</span>}
          </dd>
        </dl>
      ) : (
        <p className="muted">No model loaded.</p>
      )}
      {message && (
        <p className={status === 'loading' ? 'muted' : 'error-text'} data-testid="model-message" role="status">
          {message}
        </p>
      )}
      <div className="row">
        <button type="button" disabled={busy} onClick={() => void loadBaseModel(engine, demoModelSource())}>
          Bundled demo model
        </button>
      </div>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void loadBaseModel(engine, { kind: 'hub', repo: repo.trim() });
        }}
      >
        <input aria-label="Hugging Face repo id" value={repo} onChange={(e) => setRepo(e.target.value)} placeholder="owner/name" />
        <button type="submit" disabled={busy || !/^[\w.-]+\/[\w.-]+$/.test(repo.trim())}>
          Download
        </button>
      </form>
      <label className="row">
        <span>Local files (config.json, tokenizer files, safetensors):</span>
        <input
          type="file"
          multiple
          disabled={busy}
          data-testid="model-files"
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            if (files.length) void loadBaseModel(engine, { kind: 'files', files });
          }}
        />
      </label>
    </section>
  );
}
