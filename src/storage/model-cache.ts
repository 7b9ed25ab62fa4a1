// Hub files kept in the browser's Cache Storage (which workers have too), so a model downloaded once
// loads from disk the next time, without the network. Entries are keyed by the file's resolved URL,
// {hubBase}/{repo}/resolve/{revision}/{file}, so a mirror, a repo or a revision never shares another's.
// Files stream into the cache as they download and are read back by range through Blob.slice: a
// multi-GB checkpoint is never held whole in memory. Cache.put commits only a body that streamed to
// its end, so a cancelled or broken download leaves nothing behind.

import type { ByteSource } from '../formats/byte-source.ts';
import type { HubCache } from '../formats/hub-files.ts';

export const MODEL_CACHE_NAME = 'tabtune-models';

/** The bytes promised when the file was stored: a shorter entry is not trusted. */
const BYTES_HEADER = 'x-tabtune-bytes';
/** Marks "the hub has no such file" (a 404 remembered), so probing for optional files stays local. */
const MISSING_HEADER = 'x-tabtune-missing';

/** The part of the Cache interface the model cache uses; Node tests pass a fake (Node has no Cache Storage). */
export interface CacheLike {
  match(url: string): Promise<Response | undefined>;
  put(url: string, res: Response): Promise<void>;
  delete(url: string): Promise<boolean>;
}

function blobSource(name: string, blob: Blob): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > blob.size) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${blob.size} bytes)`);
      }
      const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      if (bytes.byteLength !== length) {
        throw new RangeError(`${name}: the model cache gave ${bytes.byteLength} of ${length} bytes at ${offset}; it may have been cleared while in use`);
      }
      return bytes;
    },
  };
}

/**
 * A HubCache over `open()`'s cache, opened on first use. `estimate` (navigator.storage.estimate)
 * says how much room is left, so a file that cannot fit is not streamed into the cache in vain.
 */
export function modelCache(open: () => Promise<CacheLike>, estimate?: () => Promise<StorageEstimate>): HubCache {
  let opened: Promise<CacheLike> | null = null;
  const cache = () => (opened ??= open());

  async function match(url: string, name: string): Promise<ByteSource | 'missing' | null> {
    const c = await cache();
    const res = await c.match(url);
    if (!res) return null;
    if (res.headers.has(MISSING_HEADER)) return 'missing';
    const blob = await res.blob();
    const promised = res.headers.get(BYTES_HEADER);
    if (promised !== null && blob.size !== Number(promised)) {
      await c.delete(url);
      return null;
    }
    return blobSource(name, blob);
  }

  return {
    match,
    async free() {
      const e = await estimate?.();
      return e?.quota !== undefined && e.usage !== undefined ? Math.max(0, e.quota - e.usage) : null;
    },
    async put(url, name, body, size) {
      const c = await cache();
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
      if (size !== null) headers[BYTES_HEADER] = String(size);
      await c.put(url, new Response(body, { headers }));
      const stored = await match(url, name);
      if (!stored || stored === 'missing') throw new Error('the file was gone from the cache right after it was stored');
      return stored;
    },
    async putMissing(url) {
      const c = await cache();
      await c.put(url, new Response(null, { status: 404, headers: { [MISSING_HEADER]: '1' } }));
    },
  };
}

/** The browser's model cache, or null where there is no Cache Storage (Node, an insecure page). */
export function browserModelCache(): HubCache | null {
  if (typeof caches === 'undefined') return null;
  const storage = globalThis.navigator?.storage;
  return modelCache(() => caches.open(MODEL_CACHE_NAME), storage?.estimate ? () => storage.estimate() : undefined);
}
