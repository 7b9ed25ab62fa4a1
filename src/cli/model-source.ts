// Resolves --model / --adapter to files: a local folder, or a Hugging Face repo id fetched through
// {hubBase}/{repo}/resolve/{revision}/{file} into the disk cache (progress on stderr).

import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ModelFiles } from '../formats/byte-source.ts';
import { DEFAULT_HUB_BASE, isRepoId } from '../formats/hub-files.ts';
import { cachedHubFiles, defaultCacheDir } from '../formats/node-hub-cache.ts';
import { nodeDirFiles } from '../formats/node-files.ts';
import { zipFiles } from '../formats/zip-files.ts';
import { UsageError } from './args.ts';

export interface SourceOptions {
  hubBase?: string;
  revision?: string;
  quiet?: boolean;
}

function progress(quiet: boolean) {
  let last = 0;
  return ({ file, loaded, total }: { file: string; loaded: number; total: number | null }) => {
    if (quiet) return;
    const now = Date.now();
    const done = total !== null && loaded >= total;
    if (!done && now - last < 500) return;
    last = now;
    const mb = (n: number) => (n / 2 ** 20).toFixed(1);
    process.stderr.write(`downloading ${file}: ${mb(loaded)}${total ? ` / ${mb(total)}` : ''} MiB${done ? '\n' : '\r'}`);
  };
}

export function resolveFiles(spec: string, what: string, o: SourceOptions = {}): ModelFiles {
  if (existsSync(spec)) {
    if (statSync(spec).isDirectory()) return nodeDirFiles(spec);
    if (spec.toLowerCase().endsWith('.zip')) return zipFiles(spec, new Uint8Array(readFileSync(spec)));
    throw new UsageError(`${what} "${spec}" is a file; give the folder that holds it (or a .zip of it)`);
  }
  if (isRepoId(spec)) {
    return cachedHubFiles({
      repo: spec,
      revision: o.revision ?? 'main',
      hubBase: o.hubBase ?? process.env.TABTUNE_HUB_BASE ?? DEFAULT_HUB_BASE,
      cacheDir: defaultCacheDir(),
      onProgress: progress(o.quiet ?? false),
    });
  }
  throw new UsageError(`${what} "${spec}" is neither a folder nor a Hugging Face repo id (owner/name)`);
}
