// Where a merged model goes in the browser: straight into a folder the user picked (File System
// Access API), or into a zip whose parts become Blobs as they are produced. Either way only the
// tensor being written sits in JavaScript memory; the browser keeps large Blobs on disk.

import { Zip, ZipPassThrough } from 'fflate';
import type { StreamedFile } from '../formats/merge.ts';

export interface WrittenFiles {
  files: string[];
  bytes: number;
}

/**
 * Writes every file into `folder` (created inside `parent`). Each file goes through a writable
 * stream that only replaces the file on close, so a failure leaves no half-written file behind.
 */
export async function writeToDirectory(parent: FileSystemDirectoryHandle, folder: string, files: AsyncIterable<StreamedFile>): Promise<WrittenFiles> {
  return writeFiles(await parent.getDirectoryHandle(folder, { create: true }), `${folder}/`, files);
}

async function writeFiles(dir: FileSystemDirectoryHandle, prefix: string, files: AsyncIterable<StreamedFile> | StreamedFile[]): Promise<WrittenFiles> {
  const out: WrittenFiles = { files: [], bytes: 0 };
  for await (const f of files) {
    const writable = await (await dir.getFileHandle(f.name, { create: true })).createWritable();
    try {
      for await (const chunk of f.chunks) {
        await writable.write(chunk as Uint8Array<ArrayBuffer>);
        out.bytes += chunk.byteLength;
      }
      await writable.close();
    } catch (e) {
      await writable.abort().catch(() => undefined);
      throw e;
    }
    out.files.push(`${prefix}${f.name}`);
  }
  return out;
}

/** A zip (stored, not compressed: weights hardly compress) of the files under `folder/`. */
export async function zipToBlob(folder: string, files: AsyncIterable<StreamedFile>): Promise<WrittenFiles & { zip: Blob }> {
  const parts: Blob[] = [];
  let failure: Error | null = null;
  const zip = new Zip((err, data) => {
    if (err) failure = err;
    // Each part is handed to the browser's blob store at once, so the JS copy can be collected.
    else parts.push(new Blob([data as Uint8Array<ArrayBuffer>]));
  });
  const out: WrittenFiles = { files: [], bytes: 0 };
  for await (const f of files) {
    const entry = new ZipPassThrough(`${folder}/${f.name}`);
    zip.add(entry);
    for await (const chunk of f.chunks) {
      entry.push(chunk);
      out.bytes += chunk.byteLength;
    }
    entry.push(new Uint8Array(0), true);
    out.files.push(`${folder}/${f.name}`);
    if (failure) throw failure;
  }
  zip.end();
  if (failure) throw failure;
  return { ...out, zip: new Blob(parts, { type: 'application/zip' }) };
}

/** One streamed file written straight into the picked folder (a merged GGUF). */
export async function writeFileToDirectory(parent: FileSystemDirectoryHandle, file: StreamedFile): Promise<WrittenFiles> {
  return writeFiles(parent, '', [file]);
}

/** One streamed file as a Blob, its chunks handed to the browser's blob store as they come. */
export async function fileToBlob(file: StreamedFile): Promise<WrittenFiles & { zip: Blob }> {
  const parts: Blob[] = [];
  let bytes = 0;
  for await (const chunk of file.chunks) {
    parts.push(new Blob([chunk as Uint8Array<ArrayBuffer>]));
    bytes += chunk.byteLength;
  }
  return { files: [file.name], bytes, zip: new Blob(parts, { type: 'application/octet-stream' }) };
}
