// A hub model as the worker loads it: files kept in the browser's model cache (so the next load is
// local), progress as structured download reports, and cancellation through an AbortSignal. A GGUF
// picked from the repo is one more file of it, downloaded and cached the same way.

import type { ModelFiles } from '../formats/byte-source.ts';
import { FormatError } from '../formats/errors.ts';
import { hubFiles, type HubProgress } from '../formats/hub-files.ts';
import { hubGgufModelFiles } from '../formats/hub-gguf.ts';
import type { DownloadProgress, ModelSource } from '../protocol/messages.ts';
import { browserModelCache } from '../storage/model-cache.ts';
import { downloadText } from '../util/download-text.ts';

/** Reports travel through comlink to React: a few a second keep the bar live without flooding either. */
export const DOWNLOAD_REPORT_MS = 100;

export type DownloadSink = (message: string, fraction: number | undefined, download: DownloadProgress) => void;

/** Passes on a file's first and last report and, between them, one per `intervalMs`. */
export function throttledDownloads(sink: DownloadSink, intervalMs = DOWNLOAD_REPORT_MS, now = () => performance.now()): (p: HubProgress) => void {
  let last = -Infinity;
  let file: string | null = null;
  return (p) => {
    const t = now();
    if (p.file === file && !p.done && t - last < intervalMs) return;
    last = t;
    file = p.file;
    const text = p.cached ? downloadText(p) : `downloading ${downloadText(p)}`;
    sink(text, p.total ? p.loaded / p.total : undefined, { ...p });
  };
}

export function hubModelFiles(
  source: Extract<ModelSource, { kind: 'hub' }>,
  sink: DownloadSink,
  warn: (message: string) => void,
  signal?: AbortSignal,
): ModelFiles {
  const cache = browserModelCache();
  const files = hubFiles({
    repo: source.repo,
    revision: source.revision,
    hubBase: source.hubBase,
    signal,
    ...(cache ? { cache } : {}),
    onProgress: throttledDownloads(sink),
    onWarning: warn,
  });
  const path = source.gguf;
  if (!path) return files;
  // Loading reads every tensor: the file is downloaded whole (into the cache, with progress) first.
  return hubGgufModelFiles(files, path, async (p) => {
    const src = await files.get(p);
    if (!src) throw new FormatError(`${files.name}/${p}`, 'is not in the repo (HTTP 404); pick a file from the repo\'s list');
    return src;
  });
}

/** A load the user cancelled. Named like the DOM's abort so the UI tells it from a failure. */
export class LoadCancelledError extends Error {
  constructor(what: string, kept: string | null) {
    super(`Loading ${what} was cancelled${kept ? `; ${kept} is still loaded` : ''}.`);
    this.name = 'AbortError';
  }
}
