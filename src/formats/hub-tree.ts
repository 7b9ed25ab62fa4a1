// A hub repo's files with their sizes, from the hub's tree API
// (GET {hubBase}/api/models/{repo}/tree/{revision}?recursive=true), before anything is downloaded:
// how a repo of GGUF files shows what it offers. Large repos come in pages linked by
// `Link: <...>; rel="next"`, followed here.

import { FormatError } from './errors.ts';
import { hubTreeUrl, type HubOptions } from './hub-files.ts';

export interface HubEntry {
  /** Path inside the repo, e.g. "Q4_K_M/model-Q4_K_M.gguf". */
  path: string;
  /** Bytes of the file itself (for LFS files, the stored object's size, not its pointer's). */
  size: number;
}

/** A runaway pagination stops here; a repo this large is not one to browse from a tab. */
const MAX_PAGES = 50;

function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1]!;
  }
  return null;
}

function entriesOf(url: string, body: unknown): HubEntry[] {
  if (!Array.isArray(body)) throw new FormatError(url, 'is not a file listing (expected a JSON array); check that the hub address is a Hugging Face hub or a mirror of its API');
  const out: HubEntry[] = [];
  for (const e of body as unknown[]) {
    if (typeof e !== 'object' || e === null) continue;
    const r = e as { type?: unknown; path?: unknown; size?: unknown; lfs?: { size?: unknown } };
    if (r.type !== 'file' || typeof r.path !== 'string') continue;
    const size = typeof r.lfs?.size === 'number' ? r.lfs.size : r.size;
    out.push({ path: r.path, size: typeof size === 'number' && size >= 0 ? size : 0 });
  }
  return out;
}

/** Every file of the repo at the revision; FormatError naming the repo on a failure. */
export async function listHubTree(o: HubOptions): Promise<HubEntry[]> {
  const doFetch = o.fetch ?? globalThis.fetch;
  const check = `check the repo id "${o.repo}", the revision "${o.revision ?? 'main'}" and your network connection`;
  const files: HubEntry[] = [];
  let url: string | null = hubTreeUrl(o);
  for (let page = 0; url && page < MAX_PAGES; page++) {
    let res: Response;
    try {
      res = await doFetch(url, o.signal ? { signal: o.signal } : {});
    } catch (e) {
      if (o.signal?.aborted) throw e;
      throw new FormatError(o.repo, `its file list could not be fetched from ${url} (${(e as Error).message}); ${check}`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      const code = res.headers.get('x-error-code');
      const hint = res.status === 401 || res.status === 403 ? ' (the repo may be private or gated)' : res.status === 404 ? ` (${code ?? 'not found'})` : '';
      throw new FormatError(o.repo, `its file list could not be fetched: HTTP ${res.status}${hint} from ${url}; ${check}`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch (e) {
      throw new FormatError(url, `is not valid JSON (${(e as Error).message}); check that the hub address is a Hugging Face hub or a mirror of its API`);
    }
    files.push(...entriesOf(url, body));
    const next = nextLink(res.headers.get('link'));
    url = next ? new URL(next, url).href : null;
  }
  return files;
}
