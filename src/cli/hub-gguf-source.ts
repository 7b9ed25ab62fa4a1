// --model owner/name/path/file.gguf, or owner/name:Q4_K_M (the repo's one GGUF with that quant type
// in its name, found through the hub's file list): a GGUF in a hub repo. Its header is read by HTTP
// range, so `tabtune plan` downloads nothing; the first tensor read downloads the whole file into
// the same disk cache as safetensors files (with progress), and later runs read it from there.

import type { ModelFiles } from '../formats/byte-source.ts';
import { FormatError } from '../formats/errors.ts';
import { headerFirstSource } from '../formats/header-first-source.ts';
import { openRangeSource } from '../formats/http-range-source.ts';
import { hubGgufModelFiles, type HubGgufSpec, pickHubGguf } from '../formats/hub-gguf.ts';
import { hubUrl, type HubOptions } from '../formats/hub-files.ts';
import { listHubTree } from '../formats/hub-tree.ts';
import { cachedHubFiles } from '../formats/node-hub-cache.ts';

export function hubGgufFiles(spec: HubGgufSpec, o: HubOptions & { cacheDir: string }): ModelFiles {
  const repo = cachedHubFiles(o);
  const sizes = new Map<string, number>();
  const path =
    spec.file ??
    (async () => {
      const entries = await listHubTree(o);
      for (const e of entries) sizes.set(e.path, e.size);
      return pickHubGguf(repo.name, entries, spec.quant).path;
    });
  const open = async (file: string) => {
    const hit = await repo.cached(file);
    if (hit) return hit;
    const name = `${repo.name}/${file}`;
    const size = sizes.get(file);
    const ranged = await openRangeSource(hubUrl(o, file), { name, ...(o.fetch ? { fetch: o.fetch } : {}), ...(size !== undefined ? { size } : {}) });
    return headerFirstSource(ranged, async () => {
      const src = await repo.get(file);
      if (!src) throw new FormatError(name, 'is no longer in the repo (HTTP 404 on download); check the file name with the repo\'s file list');
      return src;
    });
  };
  return hubGgufModelFiles(repo, path, open, spec.file ? `${repo.name}/${spec.file}` : `${repo.name}:${spec.quant}`);
}
