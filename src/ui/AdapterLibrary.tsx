// Saved adapters: every finished (or stopped) run's adapter and every imported PEFT adapter, with
// what it was trained on and how well; rename, delete, or use one in the playground and downloads.

import { useState } from 'react';
import type { SavedAdapter } from '../protocol/messages.ts';
import { deleteAdapter, libraryStore, refreshLibrary, renameAdapter, useLibrary } from '../state/library.ts';
import { appStore, useAppStore } from '../state/store.ts';
import { useEngine } from './engine-context.ts';

const loss = (x: number | null) => (x === null ? '–' : x.toFixed(4));

function AdapterRow({ adapter, active, onUse }: { adapter: SavedAdapter; active: boolean; onUse: () => void }) {
  const [editing, setEditing] = useState<string | null>(null);
  const busy = useAppStore((s) => s.training.status === 'training');
  return (
    <li data-adapter-id={adapter.id} aria-current={active ? 'true' : undefined}>
      {editing === null ? (
        <strong>{adapter.name}</strong>
      ) : (
        <input aria-label={`New name for ${adapter.name}`} value={editing} onChange={(e) => setEditing(e.target.value)} />
      )}{' '}
      · {adapter.baseModel} · r={adapter.rank}, alpha {adapter.alpha} · {adapter.targets.join(', ')} · final validation {loss(adapter.finalValLoss)}, best{' '}
      {loss(adapter.bestValLoss)} · {new Date(adapter.createdAt).toLocaleString()}{' '}
      {editing === null ? (
        <button type="button" onClick={() => setEditing(adapter.name)} aria-label={`Rename ${adapter.name}`}>
          Rename
        </button>
      ) : (
        <button
          type="button"
          disabled={editing.trim() === ''}
          onClick={() => {
            void renameAdapter(adapter.id, editing.trim());
            setEditing(null);
          }}
        >
          Save name
        </button>
      )}{' '}
      <button type="button" disabled={busy || active} onClick={onUse} aria-label={`Use ${adapter.name}`}>
        {active ? 'In use' : 'Use'}
      </button>{' '}
      <button type="button" disabled={active} onClick={() => void deleteAdapter(adapter.id)} aria-label={`Delete ${adapter.name}`}>
        Delete
      </button>
    </li>
  );
}

export function AdapterLibrary() {
  const engine = useEngine();
  const adapters = useLibrary((s) => s.adapters);
  const active = useLibrary((s) => s.activeAdapterId);
  const problem = useLibrary((s) => s.problem);
  const modelReady = useAppStore((s) => s.modelStatus === 'ready');
  if (!engine) return null;
  const log = appStore.getState().addLog;

  async function use(id: string) {
    try {
      await engine!.request<'useAdapter'>({ kind: 'useAdapter', adapterId: id });
      libraryStore.setState({ activeAdapterId: id });
    } catch (e) {
      log('error', `could not use the adapter: ${(e as Error).message}`);
    }
  }

  async function importFiles(files: FileList | null) {
    if (!files || files.length === 0) return;
    try {
      const saved = await engine!.request<'importAdapter'>({ kind: 'importAdapter', files: [...files] });
      log('info', `imported adapter "${saved.name}" (r=${saved.rank})`);
      await refreshLibrary();
    } catch (e) {
      log('error', `import failed: ${(e as Error).message}`);
      libraryStore.setState({ problem: (e as Error).message });
    }
  }

  return (
    <section className="card" data-testid="adapter-library">
      <h2>Saved adapters</h2>
      {problem && <p className="error-text">{problem}</p>}
      {adapters.length === 0 && <p className="muted">No saved adapters yet: a finished run saves its adapter here.</p>}
      <ul aria-label="Saved adapters" className="library">
        {adapters.map((a) => (
          <AdapterRow key={a.id} adapter={a} active={a.id === active} onUse={() => void use(a.id)} />
        ))}
      </ul>
      <div className="row">
        <label>
          Import PEFT adapter (.zip){' '}
          <input type="file" accept=".zip" disabled={!modelReady} onChange={(e) => void importFiles(e.target.files)} />
        </label>
        <label>
          Import PEFT adapter folder{' '}
          <input type="file" disabled={!modelReady} onChange={(e) => void importFiles(e.target.files)} {...{ webkitdirectory: '' }} />
        </label>
      </div>
    </section>
  );
}
