// Browser: the files a user dropped or picked (a folder drop gives webkitRelativePath like
// "SmolLM2-135M/config.json"). Files are read by range through Blob.slice, never whole.

import type { ByteSource, ModelFiles } from './byte-source.ts';

function fileSource(name: string, file: File): ByteSource {
  return {
    name,
    size: file.size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > file.size) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${file.size} bytes)`);
      }
      const bytes = new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
      if (bytes.byteLength !== length) {
        throw new RangeError(`${name}: read ${bytes.byteLength} of ${length} bytes at ${offset}; the file changed since it was picked`);
      }
      return bytes;
    },
  };
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Paths of a folder drop start with the folder itself; shard names in an index do not. */
function withoutRoot(path: string): string {
  const i = path.indexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

export function droppedFiles(files: File[], name = 'dropped files'): ModelFiles {
  // Shallowest first, so "model/config.json" wins over "model/onnx/config.json" on a name match.
  const entries = files
    .map((file) => ({ file, path: file.webkitRelativePath || file.name }))
    .sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  return {
    name,
    async get(wanted) {
      const hit =
        entries.find((e) => withoutRoot(e.path) === wanted || e.path === wanted) ??
        entries.find((e) => basename(e.path) === basename(wanted));
      return hit ? fileSource(hit.path, hit.file) : null;
    },
  };
}
