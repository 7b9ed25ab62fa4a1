// A zip archive (an adapter folder someone zipped, or one tabtune exported) as a model folder.
// Files are matched by name wherever they sit inside the archive, shallowest first, because
// people zip the folder itself as often as its contents.

import { unzipSync } from 'fflate';
import { bytesSource, type ModelFiles } from './byte-source.ts';
import { FormatError } from './errors.ts';

export function zipFiles(name: string, bytes: Uint8Array): ModelFiles {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new FormatError(name, `is not a readable zip archive (${(e as Error).message})`);
  }
  const byBase = new Map<string, { path: string; bytes: Uint8Array }>();
  const paths = Object.keys(entries).filter((p) => !p.endsWith('/') && !p.startsWith('__MACOSX/'));
  paths.sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  for (const path of paths) {
    const base = path.slice(path.lastIndexOf('/') + 1);
    if (!byBase.has(base)) byBase.set(base, { path, bytes: entries[path]! });
  }
  return {
    name,
    async get(file) {
      const hit = entries[file] ? { path: file, bytes: entries[file] } : byBase.get(file);
      return hit ? bytesSource(`${name}/${hit.path}`, hit.bytes) : null;
    },
  };
}
