// GGUF models in a hub repo: naming one ("owner/name/path/file.gguf", or "owner/name:Q4_K_M" for the
// one file whose name carries that quant type), the repo's GGUF files as a user chooses between them,
// and the chosen file seen as a model folder, with the repo's own tokenizer files beside it.

import type { ByteSource, ModelFiles } from './byte-source.ts';
import { FormatError } from './errors.ts';
import { ggufModelFiles } from './gguf-model.ts';
import { quantFromName } from './gguf-quant.ts';
import { isRepoId } from './hub-files.ts';
import type { HubEntry } from './hub-tree.ts';
import { formatBytes } from '../util/format.ts';
import { once } from '../util/once.ts';

/** A GGUF model named on a hub: a file in a repo, or a quant type to find in the repo's file list. */
export type HubGgufSpec = { repo: string; file: string; quant?: undefined } | { repo: string; quant: string; file?: undefined };

/** "owner/name/dir/x.gguf" or "owner/name:Q4_K_M"; null for anything else (a plain repo id included). */
export function parseHubGgufSpec(spec: string): HubGgufSpec | null {
  const colon = /^([^:]+):([\w.-]+)$/.exec(spec);
  if (colon && isRepoId(colon[1]!)) return { repo: colon[1]!, quant: colon[2]! };
  const parts = spec.split('/');
  if (parts.length < 3 || !spec.toLowerCase().endsWith('.gguf')) return null;
  const repo = parts.slice(0, 2).join('/');
  const file = parts.slice(2);
  if (!isRepoId(repo) || file.some((s) => s === '' || s === '.' || s === '..')) return null;
  return { repo, file: file.join('/') };
}

/** One GGUF file of a repo, as the list a user picks from shows it. */
export interface HubGguf {
  path: string;
  size: number;
  /** From the name (Q4_K_M, Q8_0, IQ2_XS, F16, ...); null when the name carries none. */
  quant: string | null;
  /** Why it cannot be loaded as a model on its own, or null. */
  unusable: string | null;
}

const SPLIT = /-\d{5}-of-\d{5}\.gguf$/i;

export function hubGgufs(entries: HubEntry[]): HubGguf[] {
  return entries
    .filter((e) => e.path.toLowerCase().endsWith('.gguf'))
    .map((e) => {
      const base = e.path.slice(e.path.lastIndexOf('/') + 1);
      const unusable = SPLIT.test(base)
        ? 'one part of a split model (tabtune reads single-file GGUFs; llama-gguf-split --merge joins them)'
        : /mmproj/i.test(base)
          ? 'a vision projector, not a language model'
          : null;
      return { path: e.path, size: e.size, quant: quantFromName(e.path), unusable };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** "model-Q4_K_M.gguf (Q4_K_M, 1.2 GiB)" lines for messages. */
function listing(ggufs: HubGguf[]): string {
  return ggufs.map((g) => `${g.path} (${[g.quant ?? 'type not in the name', formatBytes(g.size), g.unusable].filter(Boolean).join(', ')})`).join('; ');
}

/**
 * The repo's one loadable GGUF whose name contains `quant` (any case). FormatError naming the repo
 * and listing its GGUF files when none or several match.
 */
export function pickHubGguf(repo: string, entries: HubEntry[], quant: string): HubGguf {
  const all = hubGgufs(entries);
  if (all.length === 0) {
    throw new FormatError(repo, `has no GGUF files (${entries.length} files listed); load it as a Hugging Face model with --model ${repo}, or name a repo that holds .gguf files`);
  }
  const tag = quant.toLowerCase();
  const usable = all.filter((g) => !g.unusable);
  const hits = usable.filter((g) => g.path.slice(g.path.lastIndexOf('/') + 1).toLowerCase().includes(tag));
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) {
    const split = all.some((g) => g.unusable && g.path.toLowerCase().includes(tag));
    const why = split ? `has no single-file GGUF whose name contains "${quant}" (only parts of a split model)` : `has no GGUF file whose name contains "${quant}"`;
    throw new FormatError(repo, `${why}; its GGUF files: ${listing(all)}`);
  }
  throw new FormatError(repo, `has ${hits.length} GGUF files whose names contain "${quant}": ${listing(hits)}; name the one to use, e.g. ${repo}/${hits[0]!.path}`);
}

/**
 * The files of `repo` seen from the folder the GGUF sits in: a GGUF in a subfolder finds a
 * tokenizer.json beside it, or else the repo's own at the root.
 */
function besideGguf(repo: ModelFiles, path: () => Promise<string>): ModelFiles {
  return {
    name: repo.name,
    async get(file) {
      const p = await path();
      const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
      return (dir ? await repo.get(`${dir}/${file}`) : null) ?? repo.get(file);
    },
  };
}

/**
 * A GGUF in the repo whose files `repo` gives, as a model folder named `name`. `path` is the file's
 * path in the repo, or finds it (a quant type looked up in the repo's list); `open` yields the file
 * itself, downloaded or read by range for its header only. tokenizer.json and the other files come
 * from the repo, when it has them.
 */
export function hubGgufModelFiles(repo: ModelFiles, path: string | (() => Promise<string>), open: (path: string) => Promise<ByteSource>, name?: string): ModelFiles {
  const where = once(typeof path === 'string' ? () => Promise.resolve(path) : path);
  const label = name ?? (typeof path === 'string' ? `${repo.name}/${path}` : repo.name);
  return ggufModelFiles({ name: label, open: async () => open(await where()) }, besideGguf(repo, where));
}
