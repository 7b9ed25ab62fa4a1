// Browser: the files a user dropped or picked (a folder drop gives webkitRelativePath like
// "SmolLM2-135M/config.json"), or one GGUF model file. Files are read by range through Blob.slice,
// never whole.

import type { ByteSource, ModelFiles } from './byte-source.ts';
import { FormatError } from './errors.ts';
import { ggufModelFiles } from './gguf-model.ts';

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

/**
 * A dropped model: a Hugging Face folder's files, or one .gguf file (with, beside it, a
 * tokenizer.json to use instead of the one its metadata makes). Several .gguf files are refused.
 */
export function droppedModelFiles(files: File[], name = 'dropped files'): ModelFiles {
  const ggufs = files.filter((f) => f.name.toLowerCase().endsWith('.gguf'));
  if (ggufs.length === 0) return droppedFiles(files, name);
  if (ggufs.length > 1) {
    throw new FormatError(name, `hold ${ggufs.length} GGUF models (${ggufs.map((f) => f.name).join(', ')}); drop one .gguf file, with its tokenizer.json if it has one`);
  }
  const gguf = ggufs[0]!;
  const beside = droppedFiles(files.filter((f) => f !== gguf), name);
  const src = fileSource(gguf.webkitRelativePath || gguf.name, gguf);
  return ggufModelFiles({ name: gguf.name, open: async () => src }, beside);
}
