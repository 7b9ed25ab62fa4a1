// The one place bytes become text: every container is read through this so that a binary, compressed
// or non-UTF-8 file fails early with a message naming where, and so a large file is never held whole
// (lines are handed on as they arrive).

import { DatasetError } from './errors.ts';

/** How many bytes at the start of a file are checked for signs of a binary file. */
const SNIFF_BYTES = 8192;

/** Passes the bytes through after checking the first 8 KB is not a binary (or compressed, or UTF-16) file. */
export async function* sniffBinary(file: string, chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = chunks[Symbol.asyncIterator]();
  let done = false;
  try {
    const head: Uint8Array[] = [];
    let n = 0;
    while (n < SNIFF_BYTES) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      head.push(r.value);
      n += r.value.length;
    }
    checkHead(file, concat(head, SNIFF_BYTES));
    yield* head; // as they came, so chunk boundaries stay where they were
    while (!done) {
      const r = await it.next();
      if (r.done) done = true;
      else yield r.value;
    }
  } finally {
    if (!done) await it.return?.();
  }
}

function checkHead(file: string, b: Uint8Array): void {
  const starts = (...sig: number[]) => sig.every((x, i) => b[i] === x);
  const fail = (why: string) => {
    throw new DatasetError(file, 0, why);
  };
  if (starts(0xff, 0xfe) || starts(0xfe, 0xff)) fail('is UTF-16 text, not UTF-8; save it as UTF-8');
  if (starts(0x1f, 0x8b)) fail('is gzip-compressed; decompress it first');
  if (starts(0x50, 0x4b, 0x03, 0x04)) fail('is a zip archive; extract the dataset file from it first');
  if (starts(0x50, 0x41, 0x52, 0x31)) fail('is a Parquet file; convert it to JSON Lines first (pandas: read_parquet(...).to_json(..., orient="records", lines=True))');
  let control = 0;
  for (const x of b) {
    if (x === 0) fail('looks like a binary file, not a dataset (it holds NUL bytes)');
    // Control characters other than tab, newline, form feed and carriage return.
    if ((x < 32 && x !== 9 && x !== 10 && x !== 12 && x !== 13) || x === 127) control++;
  }
  if (b.length > 0 && control / b.length > 0.1) fail('looks like a binary file, not a dataset');
}

function concat(parts: Uint8Array[], limit = Infinity): Uint8Array {
  const total = Math.min(
    limit,
    parts.reduce((s, p) => s + p.length, 0),
  );
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    if (at >= total) break;
    const take = p.subarray(0, total - at);
    out.set(take, at);
    at += take.length;
  }
  return out;
}

/** Streaming, fatal UTF-8 decode (a BOM at the start is dropped); an invalid byte names its offset and line. */
export async function* decodeUtf8(file: string, chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let offset = 0; // bytes decoded so far
  let newlines = 0; // '\n' bytes among them
  let tail: Uint8Array = new Uint8Array(0); // their last (up to) 3 bytes
  for await (const chunk of chunks) {
    let s: string;
    try {
      s = decoder.decode(chunk, { stream: true });
    } catch {
      const pending = pendingBytes(tail);
      const buf = concat([pending, chunk]);
      const bad = Math.max(0, firstInvalid(buf));
      throw notUtf8(file, offset - pending.length + bad, newlines + countNewlines(buf.subarray(0, bad)) + 1);
    }
    offset += chunk.length;
    newlines += countNewlines(chunk);
    tail = chunk.length >= 3 ? chunk.slice(chunk.length - 3) : concat([tail, chunk]).slice(-3);
    if (s) yield s;
  }
  let s: string;
  try {
    s = decoder.decode();
  } catch {
    throw notUtf8(file, offset - pendingBytes(tail).length, newlines + 1);
  }
  if (s) yield s;
}

function notUtf8(file: string, offset: number, line: number): DatasetError {
  return new DatasetError(file, 0, `is not UTF-8 text (invalid byte at offset ${offset}, line ${line}); save it as UTF-8`);
}

function countNewlines(b: Uint8Array): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

/** Length of the UTF-8 sequence a lead byte starts; 0 for a byte that cannot start one. */
function seqLen(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/** The bytes of an unfinished character at the end of valid UTF-8 whose last bytes are `tail`. */
function pendingBytes(tail: Uint8Array): Uint8Array {
  for (let j = tail.length - 1; j >= 0; j--) {
    const b = tail[j]!;
    if ((b & 0xc0) !== 0x80) return tail.length - j < seqLen(b) ? tail.subarray(j) : tail.subarray(tail.length);
  }
  return tail.subarray(tail.length);
}

/** Offset of the first invalid (or unfinished) UTF-8 sequence, or -1. */
function firstInvalid(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = seqLen(b);
    if (n === 0) return i;
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80; // no overlong forms
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf; // no surrogates, nothing past U+10FFFF
    for (let k = 1; k < n; k++) {
      const c = buf[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n;
  }
  return -1;
}

export interface Line {
  /** Without its line ending ("\n" or "\r\n"). */
  text: string;
  /** 1-based. */
  line: number;
}

/** Splits text chunks into lines as they arrive, in batches (one per chunk). */
export async function* splitLines(chunks: AsyncIterable<string>): AsyncGenerator<Line[]> {
  let parts: string[] = []; // the unfinished line
  let lineNo = 1;
  const strip = (s: string) => (s.endsWith('\r') ? s.slice(0, -1) : s);
  for await (const chunk of chunks) {
    const out: Line[] = [];
    let from = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
      let s = chunk.slice(from, nl);
      if (parts.length > 0) {
        parts.push(s);
        s = parts.join('');
        parts = [];
      }
      out.push({ text: strip(s), line: lineNo++ });
      from = nl + 1;
    }
    if (from < chunk.length) parts.push(chunk.slice(from));
    if (out.length > 0) yield out;
  }
  if (parts.length > 0) yield [{ text: strip(parts.join('')), line: lineNo }];
}

export async function collect(chunks: AsyncIterable<string>): Promise<string> {
  const parts: string[] = [];
  for await (const c of chunks) parts.push(c);
  return parts.join('');
}

/** An async string source that can be peeked at: what a peek reads is replayed to the next reader. */
export class Replay implements AsyncIterable<string> {
  private readonly buffered: string[] = [];
  private done = false;
  private readonly it: AsyncIterator<string>;

  constructor(source: AsyncIterable<string>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Reads until `enough(text so far)` or the end; returns the text read (it is not consumed). */
  async peek(enough: (s: string) => boolean): Promise<string> {
    let s = this.buffered.join('');
    while (!this.done && !enough(s)) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else {
        this.buffered.push(r.value);
        s += r.value;
      }
    }
    return s;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    while (this.buffered.length > 0) yield this.buffered.shift()!;
    while (!this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else yield r.value;
    }
  }

  /** Stops the source early (closes the file) when reading ended with an error. */
  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.it.return?.();
    }
  }
}
