// The app's measured matmul layouts, kept in Cache Storage (which workers have) under one same-origin
// key per adapter, so a reload does not measure again.

import type { MatmulTuningResult, TuningCache } from '../kernels/autotune.ts';

export const TUNING_CACHE_NAME = 'tabtune-tuning';

/** null where there is no Cache Storage (Node, or a context that withholds it). */
export function browserTuningCache(): TuningCache | null {
  if (typeof caches === 'undefined' || typeof location === 'undefined') return null;
  const key = (adapter: string) => new URL(`tabtune-matmul-tuning/${encodeURIComponent(adapter)}.json`, location.href).href;
  return {
    async load(adapter) {
      const res = await (await caches.open(TUNING_CACHE_NAME)).match(key(adapter));
      return res ? ((await res.json()) as MatmulTuningResult) : null;
    },
    async save(r) {
      const body = JSON.stringify(r);
      await (await caches.open(TUNING_CACHE_NAME)).put(key(r.adapter), new Response(body, { headers: { 'content-type': 'application/json' } }));
    },
  };
}
