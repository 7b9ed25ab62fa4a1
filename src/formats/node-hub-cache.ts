// Node only: hub files downloaded once into a disk cache, then read by range like local files.
// A download goes to a temp file that is renamed into place only when complete, so an interrupted
// run never leaves a file that a later run would trust. A cached file is never re-checked against
// the hub: pin a commit as the revision when the branch may move.

import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ByteSource, ModelFiles } from './byte-source.ts';
import { FormatError } from './errors.ts';
import { hubFetch, streamBody } from './hub-files.ts';
import type { HubOptions } from './hub-files.ts';
import { nodeFileSource } from './node-files.ts';

export function defaultCacheDir(): string {
  return process.env.TABTUNE_CACHE || join(homedir(), '.cache', 'tabtune');
}

/** Path segments of a revision or file; anything that could climb out of the cache is refused. */
function segments(what: string, p: string): string[] {
  const segs = p.split('/').filter((s) => s !== '');
  if (segs.length === 0 || segs.some((s) => s === '.' || s === '..' || s.includes('\\'))) {
    throw new FormatError(p, `is not a usable ${what}: it must be a relative path without "." or ".." parts`);
  }
  return segs;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function downloadTo(o: HubOptions, file: string, target: string): Promise<boolean> {
  const res = await hubFetch(o, file);
  if (!res) return false;
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
  const fh = await open(tmp, 'w');
  try {
    await streamBody(o, file, res, async (chunk) => {
      let done = 0;
      while (done < chunk.byteLength) done += (await fh.write(chunk, done, chunk.byteLength - done)).bytesWritten;
    });
    await fh.close();
    await rename(tmp, target);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  return true;
}

/** A repo's files through the disk cache; `cached` looks without downloading. */
export interface CachedHubFiles extends ModelFiles {
  /** The file when an earlier run downloaded it, else null (nothing is fetched). */
  cached(file: string): Promise<ByteSource | null>;
}

export function cachedHubFiles(o: HubOptions & { cacheDir: string }): CachedHubFiles {
  const revision = o.revision ?? 'main';
  const repoDir = join(o.cacheDir, segments('repo id', o.repo).join('--'), ...segments('revision', revision));
  const pending = new Map<string, Promise<ByteSource | null>>();

  async function get(file: string): Promise<ByteSource | null> {
    const target = join(repoDir, ...segments('file name', file));
    if (!(await isFile(target)) && !(await downloadTo(o, file, target))) return null;
    return nodeFileSource(target);
  }

  return {
    name: revision === 'main' ? o.repo : `${o.repo}@${revision}`,
    async cached(file) {
      const target = join(repoDir, ...segments('file name', file));
      return (await isFile(target)) ? nodeFileSource(target) : null;
    },
    get(file) {
      let p = pending.get(file);
      if (!p) {
        p = get(file);
        p.catch(() => pending.delete(file));
        pending.set(file, p);
      }
      return p;
    },
  };
}
