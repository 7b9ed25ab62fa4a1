// Model files from the Hugging Face Hub (or a mirror with the same URL layout), through global
// fetch only, so the same code serves the browser and Node. Whole files are held in memory here;
// Node callers who want a disk cache use node-hub-cache.ts.

import { bytesSource } from './byte-source.ts';
import type { ByteSource, ModelFiles } from './byte-source.ts';
import { FormatError } from './errors.ts';

export const DEFAULT_HUB_BASE = 'https://huggingface.co';

export interface HubOptions {
  /** "owner/name". */
  repo: string;
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  /** Default DEFAULT_HUB_BASE. */
  hubBase?: string;
  /** Default global fetch. */
  fetch?: typeof fetch;
  onProgress?: (p: { file: string; loaded: number; total: number | null }) => void;
  signal?: AbortSignal;
}

function encodePath(p: string): string {
  return p
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
}

export function hubUrl(o: HubOptions, file: string): string {
  const base = (o.hubBase ?? DEFAULT_HUB_BASE).replace(/\/+$/, '');
  // A revision like "refs/pr/1" is one path segment to the hub, hence encodeURIComponent.
  const revision = encodeURIComponent(o.revision ?? 'main');
  return `${base}/${encodePath(o.repo)}/resolve/${revision}/${encodePath(file)}`;
}

/** Hugging Face's rules for repo ids (huggingface_hub validate_repo_id), with the owner required. */
export function isRepoId(s: string): boolean {
  if (s.length > 200 || s.includes('--') || s.includes('..') || s.endsWith('.git')) return false;
  return /^(?:\w|\w[\w.-]*\w)\/(?:\w|\w[\w.-]{0,94}\w)$/.test(s);
}

/**
 * GETs one hub file. null when the repo has no such file (404); FormatError on any other failure,
 * naming the URL and what to check.
 */
export async function hubFetch(o: HubOptions, file: string): Promise<Response | null> {
  const url = hubUrl(o, file);
  const doFetch = o.fetch ?? globalThis.fetch;
  const check = `check the repo id "${o.repo}", the revision "${o.revision ?? 'main'}" and your network connection`;
  let res: Response;
  try {
    res = await doFetch(url, o.signal ? { signal: o.signal } : {});
  } catch (e) {
    if (o.signal?.aborted) throw e;
    throw new FormatError(url, `download failed (${(e as Error).message}); ${check}`);
  }
  if (res.status === 404) {
    // The hub answers 404 for a missing repo or revision too; that is a mistake, not a missing file.
    const code = res.headers.get('x-error-code');
    if (code === 'RepositoryNotFound' || code === 'RevisionNotFound') {
      await res.body?.cancel();
      throw new FormatError(url, `HTTP 404 (${code}); ${check}`);
    }
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel();
    const hint = res.status === 401 || res.status === 403 ? ' (the repo may not exist, or be private or gated)' : '';
    throw new FormatError(url, `HTTP ${res.status} ${res.statusText}${hint}; ${check}`);
  }
  return res;
}

/** Size promised by the server, when the body is not compressed (else it counts other bytes). */
export function contentLength(res: Response): number | null {
  const enc = res.headers.get('content-encoding');
  if (enc && enc !== 'identity') return null;
  const n = Number(res.headers.get('content-length') ?? NaN);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** Feeds each chunk of the body to `sink`, reporting progress; fails on a short body. */
export async function streamBody(
  o: HubOptions,
  file: string,
  res: Response,
  sink: (chunk: Uint8Array) => void | Promise<void>,
): Promise<number> {
  const total = contentLength(res);
  let loaded = 0;
  o.onProgress?.({ file, loaded, total });
  if (res.body) {
    const reader = res.body.getReader();
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (o.signal?.aborted) throw e;
        throw new FormatError(
          res.url || hubUrl(o, file),
          `download broke off after ${loaded} bytes (${(e as Error).message}); check your network connection and try again`,
        );
      }
      const { done, value } = chunk;
      if (done) break;
      await sink(value);
      loaded += value.byteLength;
      o.onProgress?.({ file, loaded, total });
    }
  } else {
    const all = new Uint8Array(await res.arrayBuffer());
    await sink(all);
    loaded = all.byteLength;
    o.onProgress?.({ file, loaded, total });
  }
  if (total !== null && loaded !== total) {
    throw new FormatError(res.url || hubUrl(o, file), `download ended after ${loaded} of ${total} bytes; check your network connection and try again`);
  }
  return loaded;
}

async function download(o: HubOptions, file: string): Promise<ByteSource | null> {
  const res = await hubFetch(o, file);
  if (!res) return null;
  const total = contentLength(res);
  let buf = new Uint8Array(total ?? 1 << 16);
  let used = 0;
  await streamBody(o, file, res, (chunk) => {
    if (used + chunk.byteLength > buf.byteLength) {
      const grown = new Uint8Array(Math.max(buf.byteLength * 2, used + chunk.byteLength));
      grown.set(buf.subarray(0, used));
      buf = grown;
    }
    buf.set(chunk, used);
    used += chunk.byteLength;
  });
  return bytesSource(`${o.repo}/${file}`, buf.subarray(0, used));
}

export function hubFiles(o: HubOptions): ModelFiles {
  const cache = new Map<string, Promise<ByteSource | null>>();
  return {
    name: o.revision && o.revision !== 'main' ? `${o.repo}@${o.revision}` : o.repo,
    get(file) {
      let p = cache.get(file);
      if (!p) {
        p = download(o, file);
        // A failed download is not remembered, so the caller can retry.
        p.catch(() => cache.delete(file));
        cache.set(file, p);
      }
      return p;
    },
  };
}
