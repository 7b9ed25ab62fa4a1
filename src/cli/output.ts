// Where the CLI writes: --out is checked before any work starts (so a long run never ends on "is a
// file"), never names a folder the command reads from, and files are replaced whole (written beside
// their final name, then renamed), so a failure leaves what the user had as it was.

import { mkdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './args.ts';

async function kind(path: string): Promise<'dir' | 'file' | null> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

async function canonical(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return resolve(path);
  }
}

/** An input file flag (--data, --val-data) names a readable file: checked before the model is loaded. */
export async function checkInputFile(path: string | undefined, flag: string): Promise<void> {
  if (path === undefined) return;
  const k = await kind(path);
  if (k === null) throw new UsageError(`${flag} "${path}" does not exist`);
  if (k === 'dir') throw new UsageError(`${flag} "${path}" is a folder; give the dataset file`);
}

/** --out names a folder: refused when it is an existing file, or one of the folders the command reads. */
export async function checkOutDir(out: string, inputs: { flag: string; path: string | undefined }[] = [], flag = '--out'): Promise<void> {
  if ((await kind(out)) === 'file') throw new UsageError(`${flag} "${out}" is a file; give a folder to write into`);
  const target = await canonical(out);
  for (const input of inputs) {
    if (input.path === undefined || (await kind(input.path)) !== 'dir') continue;
    if ((await canonical(input.path)) === target) {
      throw new UsageError(`${flag} "${out}" is the ${input.flag} folder; writing there would overwrite the files this command reads: choose another folder`);
    }
  }
}

/** --out names a file: refused when it is an existing folder or one of the files the command reads. */
export async function checkOutFile(out: string, inputs: string[] = [], flag = '--out'): Promise<void> {
  if ((await kind(out)) === 'dir') throw new UsageError(`${flag} "${out}" is a folder; give a file name to write`);
  if ((await kind(dirname(resolve(out)))) === 'file') throw new UsageError(`${flag} "${out}": ${dirname(out)} is a file, not a folder`);
  const target = await canonical(out);
  for (const input of inputs) {
    if ((await canonical(input)) === target) throw new UsageError(`${flag} "${out}" is also an input of this command; choose another file name`);
  }
}

/** Writes one file whole: to a temporary name beside it, then renamed over the old one. */
export async function writeFileAtomic(path: string, data: Uint8Array | string | AsyncIterable<Uint8Array>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tabtune-${process.pid}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes the files of a folder: all of them to temporary names first, then each renamed into place. */
export async function writeFolderAtomic(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmps: [string, string][] = [];
  try {
    for (const [name, bytes] of files) {
      const path = join(dir, name);
      const tmp = `${path}.tabtune-${process.pid}.tmp`;
      tmps.push([tmp, path]);
      await writeFile(tmp, bytes);
    }
  } catch (e) {
    for (const [tmp] of tmps) await rm(tmp, { force: true });
    throw e;
  }
  for (const [tmp, path] of tmps) await rename(tmp, path);
}
