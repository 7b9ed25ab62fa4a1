// A model folder served over HTTP at `${baseUrl}/${file}` (the app's bundled models). Files are
// fetched whole on first use and kept; 404 (or an HTML page in place of another file) means the
// folder has no such file.

import { bytesSource, type ByteSource, type ModelFiles } from './byte-source.ts';
import { FormatError } from './errors.ts';

export function urlFiles(baseUrl: string, name = baseUrl, fetchFn: typeof fetch = fetch): ModelFiles {
  const cache = new Map<string, Promise<ByteSource | null>>();
  const base = baseUrl.replace(/\/+$/, '');
  async function load(file: string): Promise<ByteSource | null> {
    const url = `${base}/${file.split('/').map(encodeURIComponent).join('/')}`;
    let res: Response;
    try {
      res = await fetchFn(url);
    } catch (e) {
      throw new FormatError(url, `could not be fetched (${(e as Error).message})`);
    }
    if (res.status === 404) return null;
    // Single-page-app servers (Vite's own, many static hosts) answer a missing path with index.html
    // and 200; read as a model file (chat_template.jinja, say) that page would pass for one.
    if (!file.endsWith('.html') && res.headers.get('content-type')?.startsWith('text/html')) return null;
    if (!res.ok) throw new FormatError(url, `answered HTTP ${res.status}`);
    return bytesSource(`${name}/${file}`, new Uint8Array(await res.arrayBuffer()));
  }
  return {
    name,
    get(file) {
      let p = cache.get(file);
      if (!p) {
        p = load(file);
        cache.set(file, p);
      }
      return p;
    },
  };
}
