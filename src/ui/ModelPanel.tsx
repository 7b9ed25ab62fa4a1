// The base model: the bundled demo (default, offline), a Hugging Face repo id (its files listed and
// the training plan shown first, a GGUF file picked when it has them, then downloaded with a progress
// bar and kept in the browser's model cache), or dropped files (a folder's, or one .gguf).

import { useState } from 'react';
import { describeTypeCounts } from '../formats/gguf-quant.ts';
import { DEFAULT_HUB_BASE, isRepoId } from '../formats/hub-files.ts';
import type { WeightPrecision } from '../model/weights.ts';
import type { DownloadProgress, ModelSource } from '../protocol/messages.ts';
import { useAppStore } from '../state/store.ts';
import { downloadText, sizeText } from '../util/download-text.ts';
import { demoModelSource } from './demo.ts';
import { useEngine } from './engine-context.ts';
import { formatBytes } from '../util/format.ts';
import { DropZone } from './DropZone.tsx';
import { HubFilePicker } from './HubFilePicker.tsx';
import { cancelModelLoad, loadBaseModel } from './load-model.ts';
import { ModelPlanView } from './ModelPlanView.tsx';
import { listHubRepo, useHubRepo } from './use-hub-repo.ts';
import { useModelPlan } from './use-model-plan.ts';
import { WeightPrecisionSelect } from './WeightPrecisionSelect.tsx';
import './model-panel.css';

/** The select's value for the bundled demo model; the other values are repo ids. */
const DEMO = 'demo';
/** Small instruct models that train in a tab on most GPUs. */
const SUGGESTED_REPOS = ['HuggingFaceTB/SmolLM2-135M-Instruct', 'HuggingFaceTB/SmolLM2-360M-Instruct', 'Qwen/Qwen2.5-0.5B-Instruct', 'Qwen/Qwen3-0.6B', 'unsloth/gemma-3-270m-it'];

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

/** What the hub repo offers (listed before any download), the file picked, and the plan for it. */
function HubRepoView({ listing, picked, onPick, plan, busy }: {
  listing: ReturnType<typeof useHubRepo>;
  picked: string | null;
  onPick(path: string | null): void;
  plan: ReturnType<typeof useModelPlan>;
  busy: boolean;
}) {
  if (listing.status === 'idle') return null;
  if (listing.status === 'listing') return <p className="muted" data-testid="hub-listing">Listing the files of {listing.repo}…</p>;
  if (listing.status === 'error') {
    return (
      <p className="error-text" data-testid="hub-listing-error" role="status">
        {listing.message}
      </p>
    );
  }
  const { list } = listing;
  const usable = list.ggufs.filter((g) => !g.unusable);
  return (
    <div className="hub-repo" data-testid="hub-repo" data-repo={list.repo}>
      {list.ggufs.length > 0 && <HubFilePicker list={list} picked={picked} disabled={busy} onPick={onPick} />}
      {!list.hasSafetensors && usable.length === 0 && (
        <p className="error-text" data-testid="hub-no-model">
          {list.repo} has no model tabtune can load: no config.json with safetensors weights
          {list.ggufs.length > 0 ? ', and no single-file GGUF' : ' and no GGUF file'} among its {list.files.length} files.
        </p>
      )}
      <ModelPlanView state={plan} />
    </div>
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
  const [precision, setPrecision] = useState<WeightPrecision>('auto');
  // The repo whose files are listed: named by the user (typed or chosen), never the initial value, so
  // opening the app asks no hub of anything.
  const [lookup, setLookup] = useState<string | null>(null);
  const [picked, setPicked] = useState<string | null>(null);
  // Open from the start when a mirror was given, so the user sees where downloads come from.
  const [mirrorGiven] = useState(() => hubBase !== DEFAULT_HUB_BASE);
  const busy = status === 'loading';
  const hubOk = isHttpUrl(hubBase.trim());
  const listing = useHubRepo(engine, lookup && hubOk ? lookup : null, hubBase.trim());
  const list = listing.status === 'ready' ? listing.list : null;
  const planned: Extract<ModelSource, { kind: 'hub' }> | null =
    list && (picked !== null || list.hasSafetensors) ? { kind: 'hub', repo: list.repo, hubBase: hubBase.trim(), ...(picked ? { gguf: picked } : {}) } : null;
  const plan = useModelPlan(engine, planned, precision);
  if (!engine) return null;
  const current = busy ? downloads.at(-1) : undefined;
  const repoOk = isRepoId(repo.trim());

  function nameRepo(r: string) {
    setRepo(r);
    setPicked(null);
    setLookup(isRepoId(r.trim()) ? r.trim() : null);
  }

  async function download(r: string) {
    const base = hubBase.trim();
    setLookup(r);
    // A repo of GGUF files alone waits for the user's pick; a listing that fails (a mirror without
    // the hub's API) leaves the load to say what is wrong.
    const files = await listHubRepo(engine!, r, base).catch(() => null);
    const gguf = files && picked && files.ggufs.some((g) => g.path === picked) ? picked : undefined;
    if (files && !gguf && !files.hasSafetensors && files.ggufs.some((g) => !g.unusable)) return;
    void loadBaseModel(engine!, { kind: 'hub', repo: r, hubBase: base, ...(gguf ? { gguf } : {}) }, precision);
  }

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
          <dd data-testid="model-weights" data-bytes={model.weightBytes}>
            {formatBytes(model.weightBytes)}: <span data-testid="model-weight-types">{describeTypeCounts(model.weightDtypes)}</span>
            {model.gguf ? (
              <span className="muted"> (from a GGUF file)</span>
            ) : (
              model.checkpointDtype && <span className="muted"> (checkpoint: {model.checkpointDtype})</span>
            )}
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
              if (e.target.value !== DEMO) nameRepo(e.target.value);
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
          onClick={() => void (choice === DEMO ? loadBaseModel(engine, demoModelSource(), precision) : download(choice))}
        >
          Load
        </button>
      </div>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (!repoOk || !hubOk || busy) return;
          void download(repo.trim());
        }}
      >
        <input aria-label="Hugging Face repo id" value={repo} onChange={(e) => nameRepo(e.target.value)} placeholder="owner/name" />
        <button type="submit" disabled={busy || !repoOk || !hubOk || (list !== null && list.repo === repo.trim() && !list.hasSafetensors && picked === null)}>
          Download
        </button>
      </form>
      {lookup === repo.trim() && <HubRepoView listing={listing} picked={picked} onPick={setPicked} plan={plan} busy={busy} />}
      <div className="row">
        <WeightPrecisionSelect value={precision} disabled={busy} onChange={setPrecision} />
      </div>
      <details className="advanced" open={mirrorGiven}>
        <summary>Advanced</summary>
        <label className="row">
          <span>Hub mirror URL</span>
          <input aria-label="Hub mirror URL" value={hubBase} onChange={(e) => setHubBase(e.target.value)} placeholder={DEFAULT_HUB_BASE} />
        </label>
        {!hubOk && <p className="error-text">The mirror URL must start with http:// or https://.</p>}
        <p className="muted">Downloads are kept in this browser, so loading the same repo again needs no network.</p>
      </details>
      <DropZone label="Drop a model" testId="model-drop-zone" disabled={busy} onFiles={(files) => void loadBaseModel(engine, { kind: 'files', files }, precision)}>
        <p className="drop-zone__hint">Drop a model here: a .gguf file (with its tokenizer.json, if it has one), or a folder&apos;s files.</p>
        <label className="row">
          <span>Local files (config.json, tokenizer files, safetensors; or one .gguf):</span>
          <input
            type="file"
            multiple
            disabled={busy}
            data-testid="model-files"
            onChange={(e) => {
              const files = [...(e.target.files ?? [])];
              if (files.length) void loadBaseModel(engine, { kind: 'files', files }, precision);
            }}
          />
        </label>
      </DropZone>
    </section>
  );
}
