// Model files from the Hugging Face Hub (or a mirror with the same URL layout), through global
// fetch only, so the same code serves the browser and Node. Without a cache, whole files are held
// in memory here; the browser injects a HubCache (storage/model-cache.ts) so files stream to disk
// and the next load is local, and Node callers who want a disk cache use node-hub-cache.ts.

import { bytesSource } from './byte-source.ts';
import type { ByteSource, ModelFiles } from './byte-source.ts';
import { SpeedMeter } from './download-speed.ts';
import { FormatError } from './errors.ts';

export const DEFAULT_HUB_BASE = 'https://huggingface.co';

/** One file's download, reported as chunks arrive. */
export interface HubProgress {
  file: string;
  loaded: number;
  /** Bytes promised by the server; null when it did not say. */
  total: number | null;
  /** Over the last few seconds (download-speed.ts); 0 at the start and for a file read from the cache. */
  bytesPerSecond: number;
  /** Read from the cache, not downloaded. */
  cached: boolean;
  /** The file is complete (the last report for it). */
  done: boolean;
}

/**
 * Where finished downloads are kept between sessions, keyed by the file's URL. Only a complete
 * download may be kept: a broken or cancelled one leaves nothing a later load would trust.
 */
export interface HubCache {
  /** What an earlier load kept: the file, 'missing' (the hub has no such file), or null (nothing kept). */
  match(url: string, name: string): Promise<ByteSource | 'missing' | null>;
  /** Bytes that may still be stored, when the platform says. */
  free(): Promise<number | null>;
  /**
   * Stores `body` as it streams (it errors on a broken or cancelled download, and then nothing is
   * kept) and gives the file back, read from the cache. `size`: the bytes promised, when known.
   */
  put(url: string, name: string, body: ReadableStream<Uint8Array>, size: number | null): Promise<ByteSource>;
  /** Remembers that the hub has no such file, so the next load need not ask. */
  putMissing(url: string): Promise<void>;
}

export interface HubOptions {
  /** "owner/name". */
  repo: string;
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  /** Default DEFAULT_HUB_BASE. */
  hubBase?: string;
  /** Default global fetch. */
  fetch?: typeof fetch;
  onProgress?: (p: HubProgress) => void;
  /** Things the user should know that do not stop the download (the cache is full, say). */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
  /** Keeps downloads for the next load; without one, files live in memory only. */
  cache?: HubCache;
  /** Clock for the speed, in ms; default performance.now. */
  now?: () => number;
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

/** The hub's listing of a repo's files at a revision, with sizes (one page; see hub-tree.ts). */
export function hubTreeUrl(o: HubOptions): string {
  const base = (o.hubBase ?? DEFAULT_HUB_BASE).replace(/\/+$/, '');
  return `${base}/api/models/${encodePath(o.repo)}/tree/${encodeURIComponent(o.revision ?? 'main')}?recursive=true`;
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

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * The body of a hub response as a stream that reports progress as it is read, turns a broken
 * connection into a FormatError naming the file, and errors when the body is shorter than promised,
 * so a consumer (a cache, say) that sees the stream end normally has the whole file. A cancelled
 * download errors with the signal's reason. `onError` sees the error the stream ends with.
 */
export function bodyStream(o: HubOptions, file: string, res: Response, onError?: (e: unknown) => void): ReadableStream<Uint8Array> {
  const total = contentLength(res);
  const meter = new SpeedMeter();
  const now = o.now ?? (() => performance.now());
  const url = res.url || hubUrl(o, file);
  let loaded = 0;
  const report = (done: boolean) => o.onProgress?.({ file, loaded, total, bytesPerSecond: meter.add(now(), loaded), cached: false, done });
  const fail = (e: unknown) => {
    onError?.(e);
    return e;
  };
  const reader = res.body?.getReader() ?? null;
  let whole: Uint8Array | null = null;
  return new ReadableStream<Uint8Array>(
    {
      start() {
        report(false);
      },
      async pull(controller) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          if (reader) chunk = await reader.read();
          else if (whole) chunk = { done: true, value: undefined };
          else chunk = { done: false, value: (whole = new Uint8Array(await res.arrayBuffer())) };
        } catch (e) {
          if (o.signal?.aborted) throw fail(o.signal.reason ?? e);
          throw fail(new FormatError(url, `download broke off after ${loaded} bytes (${(e as Error).message}); check your network connection and try again`));
        }
        if (chunk.done) {
          if (total !== null && loaded !== total) {
            throw fail(new FormatError(url, `download ended after ${loaded} of ${total} bytes; check your network connection and try again`));
          }
          report(true);
          controller.close();
          return;
        }
        loaded += chunk.value.byteLength;
        controller.enqueue(chunk.value);
        if (total === null || loaded < total) report(false);
      },
      async cancel(reason) {
        await reader?.cancel(reason);
      },
    },
    // Pull only when the consumer asks, so a slow consumer slows the download instead of piling up chunks.
    { highWaterMark: 0 },
  );
}

/** Feeds each chunk of the body to `sink`, reporting progress; fails on a short body. */
export async function streamBody(
  o: HubOptions,
  file: string,
  res: Response,
  sink: (chunk: Uint8Array) => void | Promise<void>,
): Promise<number> {
  const reader = bodyStream(o, file, res).getReader();
  let loaded = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) return loaded;
    try {
      await sink(value);
    } catch (e) {
      await reader.cancel(e).catch(() => undefined);
      throw e;
    }
    loaded += value.byteLength;
  }
}

async function intoMemory(o: HubOptions, file: string, res: Response): Promise<ByteSource> {
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

/** One hubFiles instance's use of the cache: dropped after it fails, so the user hears of it once. */
interface CacheUse {
  cache: HubCache | null;
}

function dropCache(o: HubOptions, use: CacheUse, why: string): void {
  use.cache = null;
  o.onWarning?.(`${why}; the model still loads, but will be downloaded again next time`);
}

async function download(o: HubOptions, file: string, use: CacheUse): Promise<ByteSource | null> {
  const url = hubUrl(o, file);
  const name = `${o.repo}/${file}`;
  if (use.cache) {
    try {
      const hit = await use.cache.match(url, name);
      if (hit === 'missing') return null;
      if (hit) {
        o.onProgress?.({ file, loaded: hit.size, total: hit.size, bytesPerSecond: 0, cached: true, done: true });
        return hit;
      }
    } catch (e) {
      dropCache(o, use, `the model cache could not be read (${(e as Error).message})`);
    }
  }
  const res = await hubFetch(o, file);
  const cache = use.cache;
  if (!res) {
    await cache?.putMissing(url).catch(() => undefined);
    return null;
  }
  if (!cache) return intoMemory(o, file, res);
  const total = contentLength(res);
  const free = await cache.free().catch(() => null);
  if (total !== null && free !== null && total > free) {
    // Only this file is left out: smaller ones may still fit.
    o.onWarning?.(`${file} (${mib(total)}) is not kept for next time: the browser lets this site store only ${mib(free)} more`);
    return intoMemory(o, file, res);
  }
  let streamError: unknown = null;
  try {
    return await cache.put(url, name, bodyStream(o, file, res, (e) => (streamError = e)), total);
  } catch (e) {
    // The download itself failed or was cancelled: that is the error, whatever the cache made of it.
    if (streamError !== null) throw streamError;
    if (o.signal?.aborted) throw o.signal.reason ?? e;
    const quota = (e as Error | null)?.name === 'QuotaExceededError';
    dropCache(o, use, `${file} could not be kept in the model cache (${quota ? "the browser's storage for this site is full" : (e as Error).message})`);
  }
  // The body went to the cache that failed it: fetch the file again, into memory this time.
  const again = await hubFetch(o, file);
  return again ? intoMemory(o, file, again) : null;
}

export function hubFiles(o: HubOptions): ModelFiles {
  const cache = new Map<string, Promise<ByteSource | null>>();
  const use: CacheUse = { cache: o.cache ?? null };
  return {
    name: o.revision && o.revision !== 'main' ? `${o.repo}@${o.revision}` : o.repo,
    get(file) {
      let p = cache.get(file);
      if (!p) {
        p = download(o, file, use);
        // A failed download is not remembered, so the caller can retry.
        p.catch(() => cache.delete(file));
        cache.set(file, p);
      }
      return p;
    },
  };
}
