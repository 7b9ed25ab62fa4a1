// Node only: measured matmul layouts kept in the tabtune cache folder (one JSON file, one entry per
// adapter), so only the first command on a device pays for the measurement. Written to a temp file
// and renamed, so concurrent runs never read half a file.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultCacheDir } from '../formats/node-hub-cache.ts';
import type { MatmulTuningResult, TuningCache } from '../kernels/autotune.ts';

type Entries = Record<string, MatmulTuningResult>;

export function nodeTuningCache(dir = defaultCacheDir()): TuningCache {
  const file = join(dir, 'matmul-tuning.json');
  const read = async (): Promise<Entries> => {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Entries;
    } catch {
      return {};
    }
  };
  return {
    async load(adapter) {
      return (await read())[adapter] ?? null;
    },
    async save(r) {
      const entries = { ...(await read()), [r.adapter]: r };
      await mkdir(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
      await writeFile(tmp, JSON.stringify(entries, null, 1));
      await rename(tmp, file);
    },
  };
}
