// Node only: model files on local disk. Each read opens the file, reads its range and closes it,
// so thousands of tensors never hold descriptors open and nothing reads a whole file at once.

import { open, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { ByteSource, ModelFiles } from './byte-source.ts';
import { FormatError } from './errors.ts';

/** Node caps one read at 2 GiB; big tensors are read in pieces below that. */
const MAX_READ = 1 << 30;

export async function nodeFileSource(path: string): Promise<ByteSource> {
  const st = await stat(path);
  if (!st.isFile()) throw new FormatError(path, 'is not a regular file');
  const size = st.size;
  return {
    name: path,
    size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${path}: read of ${length} bytes at ${offset} is past the end (${size} bytes)`);
      }
      const out = new Uint8Array(length);
      const fh = await open(path, 'r');
      try {
        let done = 0;
        while (done < length) {
          const want = Math.min(length - done, MAX_READ);
          const { bytesRead } = await fh.read(out, done, want, offset + done);
          if (bytesRead === 0) {
            throw new FormatError(path, `ended at byte ${offset + done}, before the ${size} bytes it had when opened; the file changed on disk, reopen it`);
          }
          done += bytesRead;
        }
      } finally {
        await fh.close();
      }
      return out;
    },
  };
}

export function nodeDirFiles(dir: string): ModelFiles {
  return {
    name: dir,
    async get(file) {
      const rel = normalize(file);
      if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) {
        throw new FormatError(dir, `refusing to read "${file}": it is outside the model folder`);
      }
      try {
        return await nodeFileSource(join(dir, rel));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw e;
      }
    },
  };
}
