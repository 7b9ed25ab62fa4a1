// The base model: the bundled demo (default, offline), a Hugging Face repo id (downloaded with a
// progress bar and kept in the browser's model cache), or dropped files.

import { useState } from 'react';
import { DEFAULT_HUB_BASE, isRepoId } from '../formats/hub-files.ts';
import type { DownloadProgress } from '../protocol/messages.ts';
import { useAppStore } from '../state/store.ts';
import { downloadText, sizeText } from '../util/download-text.ts';
import { demoModelSource } from './demo.ts';
import { useEngine } from './engine-context.ts';
import { formatBytes } from '../util/format.ts';
import { cancelModelLoad, loadBaseModel } from './load-model.ts';
import './model-panel.css';

/** The select's value for the bundled demo model; the other values are repo ids. */
const DEMO = 'demo';
/** Small instruct models that train in a tab on most GPUs. */
const SUGGESTED_REPOS = ['HuggingFaceTB/SmolLM2-135M-Instruct', 'HuggingFaceTB/SmolLM2-360M-Instruct', 'Qwen/Qwen2.5-0.5B-Instruct', 'Qwen/Qwen3-0.6B'];

/** `?hub=http://127.0.0.1:8080` points downloads at a mirror (or a test's local server). */
function initialHubBase(): string {
  const q = new URLSearchParams(window.location.search).get('hub');
  return q && isHttpUrl(q) ? q : DEFAULT_HUB_BASE;
}

function isHttpUrl(s: string): boolean {
  try {
    return /^https?:$/.test(new URL(s).protocol);
  } catch {
    return false;
  }
}

function DownloadBar({ d }: { d: DownloadProgress }) {
  return (
    <div className="download" data-testid="download-progress" data-file={d.file} data-loaded={d.loaded}>
      {/* Without a known size the bar is indeterminate rather than wrong. */}
      <progress aria-label="Download progress" {...(d.total ? { value: d.loaded, max: d.total } : {})} />
      <span className="download__text" data-testid="download-text">
        {downloadText(d)}
      </span>
      <button type="button" onClick={() => void cancelModelLoad()}>
        Cancel
      </button>
    </div>
  );
}

function FetchedFiles({ files }: { files: DownloadProgress[] }) {
  const cached = files.filter((d) => d.cached).length;
  const bytes = files.reduce((n, d) => n + d.loaded, 0);
  const where = cached === files.length ? 'all from cache' : cached === 0 ? 'downloaded' : `${cached} of ${files.length} from cache`;
  return (
    <>
      <p className="muted" data-testid="model-files-summary">
        {files.length} file{files.length === 1 ? '' : 's'}, {sizeText(bytes)}: {where}
      </p>
      <ul className="model-files muted" aria-label="Model files">
        {files.map((d) => (
          <li key={d.file} data-cached={d.cached}>
            {d.file} · {sizeText(d.loaded)}
            {d.cached ? ' · from cache' : ''}
          </li>
        ))}
      </ul>
    </>
  );
}

export function ModelPanel() {
  const engine = useEngine();
  const model = useAppStore((s) => s.model);
  const status = useAppStore((s) => s.modelStatus);
  const message = useAppStore((s) => s.modelMessage);
  const downloads = useAppStore((s) => s.modelDownloads);
  const [choice, setChoice] = useState(DEMO);
  const [repo, setRepo] = useState('HuggingFaceTB/SmolLM2-135M-Instruct');
  const [hubBase, setHubBase] = useState(initialHubBase);
  // Open from the start when a mirror was given, so the user sees where downloads come from.
  const [mirrorGiven] = useState(() => hubBase !== DEFAULT_HUB_BASE);
  const busy = status === 'loading';
  if (!engine) return null;
  const current = busy ? downloads.at(-1) : undefined;
  const repoOk = isRepoId(repo.trim());
  const hubOk = isHttpUrl(hubBase.trim());

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
      {/* The files of the last load, once it succeeded (a failed one's message says what happened). */}
      {!busy && !message && downloads.length > 0 && <FetchedFiles files={downloads} />}
      {/* While a file downloads, the bar says it all; the message would repeat it. */}
      {message && !(current && !current.done) && (
        <p className={status === 'loading' ? 'muted' : 'error-text'} data-testid="model-message" role="status">
          {message}
        </p>
      )}
      {current && <DownloadBar d={current} />}
      <div className="row">
        <label>
          Base model{' '}
          <select
            value={choice}
            disabled={busy}
            onChange={(e) => {
              setChoice(e.target.value);
              if (e.target.value !== DEMO) setRepo(e.target.value);
            }}
          >
            <option value={DEMO}>kjv-llama: the bundled demo (works offline)</option>
            {SUGGESTED_REPOS.map((r) => (
              <option key={r} value={r}>
                {r} (Hugging Face)
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          disabled={busy || (choice !== DEMO && !hubOk)}
          onClick={() => void loadBaseModel(engine, choice === DEMO ? demoModelSource() : { kind: 'hub', repo: choice, hubBase: hubBase.trim() })}
        >
          Load
        </button>
      </div>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (!repoOk || !hubOk || busy) return;
          void loadBaseModel(engine, { kind: 'hub', repo: repo.trim(), hubBase: hubBase.trim() });
        }}
      >
        <input aria-label="Hugging Face repo id" value={repo} onChange={(e) => setRepo(e.target.value)} placeholder="owner/name" />
        <button type="submit" disabled={busy || !repoOk || !hubOk}>
          Download
        </button>
      </form>
      <details className="advanced" open={mirrorGiven}>
        <summary>Advanced</summary>
        <label className="row">
          <span>Hub mirror URL</span>
          <input aria-label="Hub mirror URL" value={hubBase} onChange={(e) => setHubBase(e.target.value)} placeholder={DEFAULT_HUB_BASE} />
        </label>
        {!hubOk && <p className="error-text">The mirror URL must start with http:// or https://.</p>}
        <p className="muted">Downloads are kept in this browser, so loading the same repo again needs no network.</p>
      </details>
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
