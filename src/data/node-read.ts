// Node-only: reading a dataset file from disk for the CLI. The browser reads a File (browser-read.ts).

import { createReadStream } from 'node:fs';
import { DatasetError } from './errors.ts';
import { readDataset, type ReadOptions, type ReadResult } from './read.ts';

const CHUNK_BYTES = 1 << 20;

/** The file's bytes in 1 MiB chunks; a file that cannot be opened or read is a DatasetError. */
export async function* nodeFileChunks(path: string): AsyncIterable<Uint8Array> {
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (e) {
    throw new DatasetError(path, 0, `cannot be read (${(e as Error).message})`);
  } finally {
    stream.destroy();
  }
}

/** Reads a dataset file; messages name it by `path` as given. */
export function readDatasetFile(path: string, opts?: ReadOptions): Promise<ReadResult> {
  return readDataset(path, nodeFileChunks(path), opts);
}
