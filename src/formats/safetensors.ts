// Reads and validates a safetensors header without touching the tensor data.
// The checks mirror the reference reader (huggingface/safetensors `Metadata::validate`), so a file
// we accept is one torch accepts too, and every rejection says which file and tensor is at fault.

import type { ByteSource } from './byte-source.ts';
import { FormatError, TensorError } from './errors.ts';

export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const ST_DTYPE_BYTES: Record<StDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface StTensorInfo {
  name: string;
  dtype: StDtype;
  shape: number[];
  /** Absolute offset in the file (past the 8-byte length and the header). */
  byteOffset: number;
  byteLength: number;
}

export interface StHeader {
  file: string;
  /** In data order (ascending offsets). */
  tensors: Map<string, StTensorInfo>;
  metadata: Record<string, string>;
}

/** The reference reader's limit: a larger header is treated as hostile, not parsed. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

interface RawEntry {
  name: string;
  dtype: StDtype;
  shape: number[];
  begin: number;
  end: number;
}

export async function readSafetensorsHeader(src: ByteSource): Promise<StHeader> {
  const file = src.name;
  if (src.size < 8) {
    throw new FormatError(
      file,
      `is ${src.size} bytes, too short to be a safetensors file (it must start with an 8-byte header length); the file is empty or was cut off, download it again`,
    );
  }
  const lenBytes = await src.read(0, 8);
  const headerLen64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  // Checked as a BigInt before any allocation: garbage here must not become a huge buffer.
  if (headerLen64 > BigInt(MAX_HEADER_BYTES)) {
    throw new FormatError(
      file,
      `declares a ${headerLen64}-byte header, over the ${MAX_HEADER_BYTES}-byte limit; this is not a safetensors file or it is corrupt`,
    );
  }
  const headerLen = Number(headerLen64);
  if (8 + headerLen > src.size) {
    throw new FormatError(
      file,
      `declares a ${headerLen}-byte header but the file is only ${src.size} bytes; the file is truncated or not a safetensors file, download it again`,
    );
  }
  const text = decodeHeader(file, await src.read(8, headerLen));
  const raw = parseHeaderJson(file, text);

  const metadata = parseMetadata(file, raw[METADATA_KEY]);
  const entries: RawEntry[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name !== METADATA_KEY) entries.push(parseEntry(file, name, value));
  }

  // Same order as the reference: sort by (begin, end), then require a gap-free tiling from 0.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, StTensorInfo>();
  let expectedBegin = 0;
  for (const e of entries) {
    if (e.end < e.begin) {
      throw new TensorError(file, e.name, `has data_offsets [${e.begin}, ${e.end}] that end before they begin; the header is corrupt`);
    }
    if (e.begin !== expectedBegin) {
      const what = e.begin > expectedBegin ? 'leaving a hole' : 'overlapping the tensor before it';
      throw new TensorError(
        file,
        e.name,
        `has data_offsets [${e.begin}, ${e.end}] but the previous tensor ends at ${expectedBegin} (${what}); tensor data must be contiguous from offset 0, the file is corrupt`,
      );
    }
    const itemBytes = ST_DTYPE_BYTES[e.dtype];
    const numel = e.shape.reduce((a, b) => a * b, 1);
    const nbytes = numel * itemBytes;
    if (!Number.isSafeInteger(nbytes)) {
      throw new TensorError(file, e.name, `has shape [${e.shape.join(', ')}], too many elements to address; the header is corrupt`);
    }
    if (e.end - e.begin !== nbytes) {
      throw new TensorError(
        file,
        e.name,
        `occupies ${e.end - e.begin} bytes (data_offsets [${e.begin}, ${e.end}]) but shape [${e.shape.join(', ')}] of ${e.dtype} needs ${nbytes}; the header is corrupt`,
      );
    }
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, byteOffset: dataStart + e.begin, byteLength: nbytes });
    expectedBegin = e.end;
  }

  const held = src.size - dataStart;
  if (expectedBegin > held) {
    throw new FormatError(
      file,
      `file is truncated: header promises ${expectedBegin} bytes of tensor data, the file holds ${held}; download it again`,
    );
  }
  if (expectedBegin < held) {
    throw new FormatError(
      file,
      `has ${held - expectedBegin} unexpected bytes after the tensor data (header describes ${expectedBegin} bytes, the file holds ${held}); the file is corrupt or was not written by a safetensors writer`,
    );
  }
  return { file, tensors, metadata };
}

function decodeHeader(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(file, 'has a header that is not valid UTF-8; this is not a safetensors file or it is corrupt');
  }
}

function parseHeaderJson(file: string, text: string): Record<string, unknown> {
  if (!text.startsWith('{')) {
    throw new FormatError(file, 'has a header that does not start with "{"; this is not a safetensors file or it is corrupt');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, `has a header that is not valid JSON (${(e as Error).message}); the file is corrupt`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FormatError(file, 'has a header that is not a JSON object; the file is corrupt');
  }
  // JSON.parse keeps the last of two equal keys; the reference rejects the file instead.
  const seen = new Set<string>();
  for (const key of topLevelKeys(text)) {
    if (seen.has(key)) {
      throw new TensorError(file, key, 'is listed twice in the header; the file is corrupt');
    }
    seen.add(key);
  }
  return parsed as Record<string, unknown>;
}

/** Keys of the outermost object, in order, duplicates kept. `text` must already be valid JSON. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(start, i + 1)) as string);
      expectKey = false;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',') {
      expectKey = depth === 1;
    }
  }
  return keys;
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new FormatError(file, `has a "${METADATA_KEY}" that is not an object of strings; the header is corrupt`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new FormatError(file, `has "${METADATA_KEY}"."${k}" = ${JSON.stringify(v)}; metadata values must be strings`);
    }
    out[k] = v;
  }
  return out;
}

function isDtype(s: unknown): s is StDtype {
  return typeof s === 'string' && Object.hasOwn(ST_DTYPE_BYTES, s);
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function parseEntry(file: string, name: string, value: unknown): RawEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TensorError(file, name, 'has a header entry that is not an object with dtype, shape and data_offsets; the header is corrupt');
  }
  const v = value as Record<string, unknown>;
  if (!isDtype(v.dtype)) {
    throw new TensorError(
      file,
      name,
      `has dtype ${JSON.stringify(v.dtype)}, which tabtune cannot read (supported: ${Object.keys(ST_DTYPE_BYTES).join(', ')})`,
    );
  }
  const shape = v.shape;
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new TensorError(file, name, `has shape ${JSON.stringify(shape)}; a shape must be a list of non-negative integers`);
  }
  const offsets = v.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isCount(offsets[0]) || !isCount(offsets[1])) {
    throw new TensorError(
      file,
      name,
      `has data_offsets ${JSON.stringify(offsets)}; they must be two non-negative integers [begin, end]`,
    );
  }
  return { name, dtype: v.dtype, shape: shape as number[], begin: offsets[0], end: offsets[1] };
}
