// A model folder served over HTTP at `${baseUrl}/${file}` (the app's bundled models). Files are
// fetched whole on first use and kept; 404 means the folder has no such file.

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
