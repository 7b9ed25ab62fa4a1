// Resolves --model / --adapter to files: a local folder, or a Hugging Face repo id fetched through
// {hubBase}/{repo}/resolve/{revision}/{file} into the disk cache (progress on stderr), or one GGUF
// file of a repo (owner/name/file.gguf, owner/name:Q4_K_M; see hub-gguf-source.ts).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ModelFiles } from '../formats/byte-source.ts';
import { ggufModelFiles } from '../formats/gguf-model.ts';
import { DEFAULT_HUB_BASE, isRepoId } from '../formats/hub-files.ts';
import { parseHubGgufSpec } from '../formats/hub-gguf.ts';
import { cachedHubFiles, defaultCacheDir } from '../formats/node-hub-cache.ts';
import { nodeDirFiles, nodeFileSource } from '../formats/node-files.ts';
import { zipFiles } from '../formats/zip-files.ts';
import { UsageError } from './args.ts';
import { hubGgufFiles } from './hub-gguf-source.ts';

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

/** A GGUF file on disk, with the folder it sits in for a tokenizer.json beside it. */
const localGguf = (path: string) => ggufModelFiles({ name: path, open: () => nodeFileSource(path) }, nodeDirFiles(dirname(path)));

/** A Hugging Face folder, or a folder holding one GGUF model (and no config.json). */
function folderFiles(dir: string, what: string): ModelFiles {
  const names = readdirSync(dir);
  if (names.includes('config.json')) return nodeDirFiles(dir);
  // A split GGUF's parts (name-00001-of-00003.gguf) are not read; one file is a model.
  const ggufs = names.filter((n) => n.toLowerCase().endsWith('.gguf')).sort();
  if (ggufs.length === 1) return localGguf(join(dir, ggufs[0]!));
  if (ggufs.length > 1) {
    throw new UsageError(`${what} "${dir}" holds ${ggufs.length} GGUF models (${ggufs.map((n) => basename(n)).join(', ')}); give the one to use, e.g. ${join(dir, ggufs[0]!)}`);
  }
  return nodeDirFiles(dir);
}

export function resolveFiles(spec: string, what: string, o: SourceOptions = {}): ModelFiles {
  if (existsSync(spec)) {
    if (statSync(spec).isDirectory()) return folderFiles(spec, what);
    if (spec.toLowerCase().endsWith('.gguf')) return localGguf(spec);
    if (spec.toLowerCase().endsWith('.zip')) return zipFiles(spec, new Uint8Array(readFileSync(spec)));
    throw new UsageError(`${what} "${spec}" is a file; give the folder that holds it (or a .zip of it, or a .gguf model)`);
  }
  const gguf = parseHubGgufSpec(spec);
  if (isRepoId(spec) || gguf) {
    const hub = {
      repo: gguf?.repo ?? spec,
      revision: o.revision ?? 'main',
      hubBase: o.hubBase ?? process.env.TABTUNE_HUB_BASE ?? DEFAULT_HUB_BASE,
      cacheDir: defaultCacheDir(),
      onProgress: progress(o.quiet ?? false),
    };
    return gguf ? hubGgufFiles(gguf, hub) : cachedHubFiles(hub);
  }
  throw new UsageError(`${what} "${spec}" is neither a folder nor a Hugging Face repo id (owner/name, owner/name/file.gguf or owner/name:Q4_K_M)`);
}
