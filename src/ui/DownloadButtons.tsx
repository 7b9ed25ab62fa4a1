// Downloads of the trained adapter: a PEFT zip, a GGUF LoRA, or the base model with the adapter
// merged in. The merged model is written into a folder the user picks where the browser allows
// it (File System Access API), else it arrives as a zip; either way the worker streams it tensor
// by tensor.

import { useState } from 'react';
import { appStore, useAppStore } from '../state/store.ts';
import { formatBytes } from '../util/format.ts';
import { useEngine } from './engine-context.ts';

type DirectoryPicker = (opts: { id?: string; mode: 'readwrite' }) => Promise<FileSystemDirectoryHandle>;

function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function DownloadButtons() {
  const engine = useEngine();
  const [merging, setMerging] = useState<string | null>(null);
  // A GGUF base can also come back as one merged GGUF, its untouched tensors kept as they were.
  const gguf = useAppStore((s) => s.model?.gguf === true);
  if (!engine) return null;
  const log = appStore.getState().addLog;

  async function downloadAdapter(format: 'peft' | 'gguf') {
    try {
      const file = await engine!.request<'exportAdapter'>({ kind: 'exportAdapter', format });
      saveBlob(new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.mimeType }), file.fileName);
    } catch (e) {
      log('error', `download failed: ${(e as Error).message}`);
    }
  }

  async function downloadMerged(format: 'hf' | 'gguf') {
    const picker = (window as unknown as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker;
    let handle: FileSystemDirectoryHandle | null = null;
    if (picker) {
      try {
        handle = await picker({ id: 'tabtune-merged', mode: 'readwrite' });
      } catch (e) {
        if ((e as Error).name === 'AbortError') return; // the user closed the picker
        log('warn', `no folder could be opened (${(e as Error).message}); the merged model comes as a zip instead`);
      }
    }
    setMerging('merging: 0%');
    try {
      const r = await engine!.request<'exportMerged'>(
        { kind: 'exportMerged', format, target: handle ? { kind: 'directory', handle } : { kind: 'zip' } },
        (p) => setMerging(p.message),
      );
      if (r.zip) saveBlob(r.zip, r.name);
      log('info', `merged model saved: ${r.name} (${r.files.length} files, ${formatBytes(r.bytes)})`);
      setMerging(`saved ${r.name}`);
    } catch (e) {
      log('error', `merged download failed: ${(e as Error).message}`);
      setMerging(`failed: ${(e as Error).message}`);
    }
  }

  const busy = merging !== null && merging.startsWith('merging');
  return (
    <div className="row" data-testid="downloads">
      <button type="button" onClick={() => void downloadAdapter('peft')} data-testid="download-peft">
        Download adapter (PEFT)
      </button>
      <button type="button" onClick={() => void downloadAdapter('gguf')} data-testid="download-gguf">
        Download GGUF LoRA
      </button>
      <button type="button" disabled={busy} onClick={() => void downloadMerged('hf')} data-testid="download-merged">
        Download merged model
      </button>
      {gguf && (
        <button type="button" disabled={busy} onClick={() => void downloadMerged('gguf')} data-testid="download-merged-gguf">
          Download merged GGUF
        </button>
      )}
      {merging && (
        <span className="muted" data-testid="merge-status">
          {merging}
        </span>
      )}
    </div>
  );
}
