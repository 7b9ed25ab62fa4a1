// A remote file that is read by range until its tensors are wanted, then downloaded whole. So the
// same model folder serves `tabtune plan` (which reads a GGUF's header: byte 0 onwards, and perhaps
// a tiny tensor such as rope_freqs) without a download, and `eval` or `train` (which read every
// tensor) from one download into the cache instead of thousands of range requests.

import type { ByteSource } from './byte-source.ts';
import { FormatError } from './errors.ts';

/** Reads at most this long (past byte 0) go by range while the file is not downloaded. */
export const SMALL_READ = 64 * 1024;

export function headerFirstSource(ranged: ByteSource, download: () => Promise<ByteSource>): ByteSource {
  let whole: Promise<ByteSource> | null = null;
  const downloaded = () => {
    if (!whole) {
      whole = download().then((src) => {
        if (src.size !== ranged.size) {
          throw new FormatError(ranged.name, `was ${ranged.size} bytes when its header was read, but the download has ${src.size}; the file changed on the server, try again`);
        }
        return src;
      });
      whole.catch(() => (whole = null));
    }
    return whole;
  };
  return {
    name: ranged.name,
    size: ranged.size,
    async read(offset, length) {
      if (!whole && (offset === 0 || length <= SMALL_READ)) return ranged.read(offset, length);
      return (await downloaded()).read(offset, length);
    },
  };
}
