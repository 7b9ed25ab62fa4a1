// Reading a dataset the user picked or dropped (a File, or any Blob) in the browser, in a window or a
// worker. Uses only Blob.stream() and a stream reader (no async iteration of ReadableStream, which
// Safari lacks).

import { readDataset, type ReadOptions, type ReadResult } from './read.ts';

/** The blob's bytes as they are read; stopping early cancels the read. */
export function fileChunks(file: Blob): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      const reader = file.stream().getReader();
      let done = false;
      try {
        for (;;) {
          const r = await reader.read();
          if (r.done) {
            done = true;
            return;
          }
          yield r.value;
        }
      } finally {
        if (!done) await reader.cancel().catch(() => undefined);
        reader.releaseLock();
      }
    },
  };
}

/** Reads a picked or dropped dataset file; messages name it by its file name. */
export function readDatasetFromFile(file: File, opts?: ReadOptions): Promise<ReadResult> {
  return readDataset(file.name, fileChunks(file), opts);
}
