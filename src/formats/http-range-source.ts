// A file on an HTTP server read by byte ranges (`Range: bytes=a-b`), so a GGUF's header can be read
// without downloading its tensors (a model of gigabytes, planned from its first megabyte). Header
// readers ask for a growing prefix from byte 0: the prefix fetched so far is kept and only its
// missing tail is fetched; any other read fetches exactly its range. Through global fetch only, so
// the same code serves the browser (CORS: Range is a safelisted header) and Node.

import type { ByteSource } from './byte-source.ts';
import { FormatError } from './errors.ts';

/** The server answered a range request with the whole file (HTTP 200): it does not do ranges. */
export class RangeNotSupportedError extends FormatError {
  constructor(file: string, url: string, status: number) {
    super(
      file,
      `the server at ${url} ignored the HTTP Range request (it answered ${status} with the whole file instead of 206 with a part); tabtune reads a GGUF's header by range before downloading it, so use a hub or mirror that supports ranges, or download the file and give its path`,
    );
    this.name = 'RangeNotSupportedError';
  }
}

export interface RangeSourceOptions {
  /** Shown in errors: the repo and file, e.g. "owner/name/model-Q4_K_M.gguf". */
  name: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** The file's size when known beforehand (a hub listing): used when the server hides Content-Range. */
  size?: number;
  /** Bytes the first request fetches from byte 0 (default 1 MiB: what a GGUF header reader asks first). */
  firstBytes?: number;
}

/** A range source, with what it fetched: tests and progress reports read these. */
export interface RangeSource extends ByteSource {
  readonly requests: number;
  readonly bytesFetched: number;
}

const FIRST_BYTES = 1 << 20;

interface Part {
  bytes: Uint8Array;
  /** The file's size as the server stated it, or null when it did not (or CORS hid it). */
  total: number | null;
}

/** "bytes 0-1023/4096" -> its start and total ("*" or unreadable: null total). */
function contentRange(header: string | null): { start: number; total: number | null } | null {
  const m = header && /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim());
  if (!m) return null;
  return { start: Number(m[1]), total: m[3] === '*' ? null : Number(m[3]) };
}

/**
 * Opens `url` for range reads; the first request (bytes 0 .. firstBytes - 1) also learns the size.
 * FormatError naming `o.name` when the file is missing, the server fails, or it ignores ranges.
 */
export async function openRangeSource(url: string, o: RangeSourceOptions): Promise<RangeSource> {
  const doFetch = o.fetch ?? globalThis.fetch;
  let requests = 0;
  let bytesFetched = 0;

  async function fetchRange(start: number, end: number): Promise<Part> {
    let res: Response;
    try {
      res = await doFetch(url, { headers: { range: `bytes=${start}-${end - 1}` }, ...(o.signal ? { signal: o.signal } : {}) });
    } catch (e) {
      if (o.signal?.aborted) throw e;
      throw new FormatError(o.name, `could not be read from ${url} (${(e as Error).message}); check the address and your network connection`);
    }
    requests++;
    if (res.status === 200) {
      // The body is the whole file: stop it rather than download what was not asked for.
      await res.body?.cancel().catch(() => undefined);
      throw new RangeNotSupportedError(o.name, url, res.status);
    }
    if (res.status !== 206) {
      await res.body?.cancel().catch(() => undefined);
      const why = res.status === 404 ? 'not found: check the repo id and the file name' : res.status === 416 ? 'the range is past the end of the file: is it empty?' : res.statusText;
      throw new FormatError(o.name, `could not be read from ${url}: HTTP ${res.status} (${why})`);
    }
    const range = contentRange(res.headers.get('content-range'));
    const bytes = new Uint8Array(await res.arrayBuffer());
    bytesFetched += bytes.byteLength;
    if (range && range.start !== start) {
      throw new FormatError(o.name, `the server at ${url} sent bytes from ${range.start} when asked for bytes from ${start}`);
    }
    return { bytes, total: range?.total ?? null };
  }

  const first = await fetchRange(0, Math.max(1, o.firstBytes ?? FIRST_BYTES));
  const size = first.total ?? o.size ?? (first.bytes.byteLength < (o.firstBytes ?? FIRST_BYTES) ? first.bytes.byteLength : null);
  if (size === null) {
    throw new FormatError(o.name, `the server at ${url} did not say the file's size (no readable Content-Range header); tabtune needs it to read the file by range`);
  }
  let prefix = first.bytes.subarray(0, Math.min(first.bytes.byteLength, size));

  async function exactly(start: number, end: number): Promise<Uint8Array> {
    const part = await fetchRange(start, end);
    if (part.bytes.byteLength < end - start) {
      throw new FormatError(o.name, `the server at ${url} sent ${part.bytes.byteLength} of the ${end - start} bytes asked for at ${start}; the file may have changed on the server`);
    }
    return part.bytes.subarray(0, end - start);
  }

  return {
    name: o.name,
    size,
    get requests() {
      return requests;
    },
    get bytesFetched() {
      return bytesFetched;
    },
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${o.name}: read of ${length} bytes at ${offset} is past the end (${size} bytes)`);
      }
      const end = offset + length;
      if (end <= prefix.byteLength) return prefix.subarray(offset, end);
      if (offset !== 0) return exactly(offset, end);
      const tail = await exactly(prefix.byteLength, end);
      const grown = new Uint8Array(end);
      grown.set(prefix);
      grown.set(tail, prefix.byteLength);
      prefix = grown;
      return prefix.subarray(0, end);
    },
  };
}
