// GGUF v2/v3, the file format of ggml / llama.cpp: a general writer and a validating reader.
// Layout (little-endian; v2 and v3 are the same there): "GGUF", u32 version, u64 tensor count, u64 metadata count, the typed
// metadata key/values, the tensor infos (name, u32 n_dims, u64 ne[n_dims] = the numpy shape
// REVERSED, u32 ggml type, u64 offset into the data section), zero padding up to the alignment,
// then the data section, every tensor starting at a multiple of the alignment
// (`general.alignment`, a UINT32, default 32).

import { GGML_TYPES_BY_ID, type GgmlType, type GgmlTypeInfo, isQuantType, typeInfo } from '../quant/ggml-types.ts';
import type { ByteSource } from './byte-source.ts';
import { FormatError, TensorError } from './errors.ts';

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';
export type GgufScalar = number | bigint | boolean | string;

/** A metadata value. Read back, u64/i64 are bigints, bool a boolean, string a string, the rest numbers. */
export type GgufValue = { type: GgufScalarType; value: GgufScalar } | { type: 'array'; itemType: GgufScalarType; value: GgufScalar[] };

/** ggml's tensor type ids for the float types. */
export const GGML_TYPE = { F32: 0, F16: 1, BF16: 30 } as const;

export interface GgufTensor {
  name: string;
  /** numpy / torch order, e.g. [rows, cols]; the file holds them reversed (ggml's ne). */
  dims: number[];
  type: GgmlType;
  /** Little-endian bytes, exactly numel * itemsize. Read back, a view into the file's bytes. */
  data: Uint8Array;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensor[];
}

/** A tensor as the header describes it; its data is not read. */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: GgmlType;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  size: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Where the data section starts (tensor offsets are absolute, this is for writers that copy). */
  dataStart: number;
}

/** Which tensor types a reader accepts: adapters hold floats only, models any type tabtune computes with. */
export type GgufTypes = 'float' | 'compute';

export const GGUF_MAGIC = 'GGUF';
export const GGUF_VERSION = 3;
const READABLE_VERSIONS = [2, 3];
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
const MAX_DIMS = 4;
/** ggml's GGML_MAX_NAME (names must be shorter). */
const MAX_NAME_BYTES = 64;

// gguf_type enum.
const VALUE_TYPE_IDS = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
const VALUE_TYPE_BY_ID = new Map<number, GgufScalarType | 'array'>(Object.entries(VALUE_TYPE_IDS).map(([k, v]) => [v, k as GgufScalarType | 'array']));
const FIXED_BYTES: Record<Exclude<GgufScalarType, 'string'>, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };

const INT_RANGES: Record<'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32', [number, number]> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

const isPowerOfTwo = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
const padTo = (n: number, alignment: number) => Math.ceil(n / alignment) * alignment;

// ---------------------------------------------------------------------------------------------
// Writer

class Writer {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  pos = 0;
  private readonly utf8 = new TextEncoder();

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  u64(v: number | bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
  }
  string(s: string): void {
    const b = this.utf8.encode(s);
    this.u64(b.byteLength);
    this.bytes(b);
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
  pad(alignment: number): void {
    const n = padTo(this.pos, alignment) - this.pos;
    this.reserve(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }
  scalar(key: string, type: GgufScalarType, v: GgufScalar): void {
    const bad = (want: string): never => {
      throw new Error(`GGUF metadata "${key}": ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)} is not a valid ${type} (${want})`);
    };
    if (type === 'string') {
      if (typeof v !== 'string') bad('a string');
      this.string(v as string);
      return;
    }
    if (type === 'bool') {
      if (typeof v !== 'boolean') bad('true or false');
      this.reserve(1);
      this.view.setUint8(this.pos++, v ? 1 : 0);
      return;
    }
    this.reserve(FIXED_BYTES[type]);
    const at = this.pos;
    this.pos += FIXED_BYTES[type];
    if (type === 'u64' || type === 'i64') {
      if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isSafeInteger(v))) bad('an integer or bigint');
      const big = BigInt(v as number | bigint);
      if (type === 'u64') {
        if (big < 0n || big >= 1n << 64n) bad('0 .. 2^64-1');
        this.view.setBigUint64(at, big, true);
      } else {
        if (big < -(1n << 63n) || big >= 1n << 63n) bad('-2^63 .. 2^63-1');
        this.view.setBigInt64(at, big, true);
      }
      return;
    }
    if (typeof v !== 'number') return bad('a number');
    if (type === 'f32') return this.view.setFloat32(at, v, true);
    if (type === 'f64') return this.view.setFloat64(at, v, true);
    const [lo, hi] = INT_RANGES[type];
    if (!Number.isInteger(v) || v < lo || v > hi) bad(`an integer in ${lo} .. ${hi}`);
    switch (type) {
      case 'u8':
        return this.view.setUint8(at, v);
      case 'i8':
        return this.view.setInt8(at, v);
      case 'u16':
        return this.view.setUint16(at, v, true);
      case 'i16':
        return this.view.setInt16(at, v, true);
      case 'u32':
        return this.view.setUint32(at, v, true);
      case 'i32':
        return this.view.setInt32(at, v, true);
    }
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** A tensor as a streamed writer announces it: its data comes later. */
export type GgufTensorSpec = Omit<GgufTensor, 'data'>;

/**
 * The header of a GGUF v3 file holding `metadata` (in the order given) and `tensors` (in the order
 * given, each at a multiple of `alignment`), padded up to where the data section starts. Each
 * tensor's data must follow in order, each padded with zeros to the alignment (`ggufPadding`). When
 * `alignment` is not the default 32, `general.alignment` is added to the metadata unless present; if
 * present it must be a u32 equal to `alignment`.
 */
export function ggufHeaderBytes(metadata: [string, GgufValue][], tensors: GgufTensorSpec[], alignment = GGUF_DEFAULT_ALIGNMENT): Uint8Array {
  if (!isPowerOfTwo(alignment)) throw new Error(`GGUF alignment must be a power of two, got ${alignment}`);
  const kvs = [...metadata];
  const keys = new Set<string>();
  for (const [key, v] of kvs) {
    if (keys.has(key)) throw new Error(`GGUF metadata key "${key}" is given twice`);
    keys.add(key);
    if (key === 'general.alignment' && (v.type !== 'u32' || v.value !== alignment)) {
      throw new Error(`GGUF metadata "general.alignment" must be a u32 equal to the alignment used (${alignment})`);
    }
  }
  if (!keys.has('general.alignment') && alignment !== GGUF_DEFAULT_ALIGNMENT) kvs.push(['general.alignment', { type: 'u32', value: alignment }]);

  const w = new Writer();
  w.bytes(new TextEncoder().encode(GGUF_MAGIC));
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(kvs.length);
  for (const [key, v] of kvs) {
    w.string(key);
    w.u32(VALUE_TYPE_IDS[v.type]);
    if (v.type === 'array') {
      w.u32(VALUE_TYPE_IDS[v.itemType]);
      w.u64(v.value.length);
      for (const item of v.value) w.scalar(key, v.itemType, item);
    } else {
      w.scalar(key, v.type, v.value);
    }
  }

  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF tensor "${t.name}" is given twice`);
    names.add(t.name);
    if (new TextEncoder().encode(t.name).byteLength >= MAX_NAME_BYTES) throw new Error(`GGUF tensor name "${t.name}" is too long (ggml allows at most ${MAX_NAME_BYTES - 1} bytes)`);
    if (t.dims.length < 1 || t.dims.length > MAX_DIMS || t.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new Error(`GGUF tensor "${t.name}": dims [${t.dims}] must be 1 to ${MAX_DIMS} non-negative integers`);
    }
    const size = tensorBytes(t.type, t.dims);
    if (size === null) throw new Error(`GGUF tensor "${t.name}": rows of ${t.dims.at(-1)} are not whole ${t.type} blocks of ${typeInfo(t.type).blockSize}`);
    w.string(t.name);
    w.u32(t.dims.length);
    for (let i = t.dims.length - 1; i >= 0; i--) w.u64(t.dims[i]!);
    w.u32(typeInfo(t.type).id);
    w.u64(offset);
    offset += padTo(size, alignment);
  }
  w.pad(alignment);
  return w.finish();
}

/** Zero bytes that follow `size` bytes of tensor data up to the alignment. */
export function ggufPadding(size: number, alignment = GGUF_DEFAULT_ALIGNMENT): Uint8Array {
  return new Uint8Array(padTo(size, alignment) - size);
}

/** A whole GGUF v3 file in memory (adapters, tests); see ggufHeaderBytes for the layout rules. */
export function writeGguf(metadata: [string, GgufValue][], tensors: GgufTensor[], alignment = GGUF_DEFAULT_ALIGNMENT): Uint8Array {
  const header = ggufHeaderBytes(metadata, tensors, alignment);
  const parts: Uint8Array[] = [header];
  for (const t of tensors) {
    const expected = tensorBytes(t.type, t.dims)!;
    if (t.data.byteLength !== expected) {
      throw new Error(`GGUF tensor "${t.name}": ${t.data.byteLength} bytes given, dims [${t.dims}] of ${t.type} need ${expected}`);
    }
    parts.push(t.data, ggufPadding(expected, alignment));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reader

class Reader {
  pos = 0;
  private readonly view: DataView;
  // ignoreBOM: every string is decoded on its own, and a token may well be U+FEFF itself.
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  /** `bytes` is the file's first bytes (all of them, or a prefix of a `fileSize`-byte file). */
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    readonly fileSize = bytes.byteLength,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes left in the whole file. */
  get remaining(): number {
    return this.fileSize - this.pos;
  }
  fail(detail: string): never {
    throw new FormatError(this.file, detail);
  }
  need(n: number, what: string): void {
    if (n > this.remaining) {
      this.fail(`is truncated: ${what} at byte ${this.pos} needs ${n} bytes, but the file ends at byte ${this.fileSize}`);
    }
    if (this.pos + n > this.bytes.byteLength) throw new NeedMoreBytes();
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64raw(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit in a safe integer and be at most `max` (so nothing is allocated from it unchecked). */
  u64(what: string, max: number, why: string): number {
    const at = this.pos;
    const v = this.u64raw(what);
    if (v > BigInt(max)) this.fail(`${what} at byte ${at} is ${v}, ${why}`);
    return Number(v);
  }
  string(what: string): string {
    const len = this.u64(`length of ${what}`, this.remaining - 8, `more than the ${Math.max(0, this.remaining - 8)} bytes left in the file (is it truncated or corrupt?)`);
    this.need(len, what);
    const b = this.bytes.subarray(this.pos, this.pos + len);
    const at = this.pos;
    this.pos += len;
    try {
      return this.utf8.decode(b);
    } catch {
      return this.fail(`${what} at byte ${at} is not valid UTF-8`);
    }
  }
  scalar(type: GgufScalarType, what: string): GgufScalar {
    if (type === 'string') return this.string(what);
    const n = FIXED_BYTES[type];
    this.need(n, what);
    const at = this.pos;
    this.pos += n;
    const v = this.view;
    switch (type) {
      case 'u8':
        return v.getUint8(at);
      case 'i8':
        return v.getInt8(at);
      case 'u16':
        return v.getUint16(at, true);
      case 'i16':
        return v.getInt16(at, true);
      case 'u32':
        return v.getUint32(at, true);
      case 'i32':
        return v.getInt32(at, true);
      case 'f32':
        return v.getFloat32(at, true);
      case 'f64':
        return v.getFloat64(at, true);
      case 'u64':
        return v.getBigUint64(at, true);
      case 'i64':
        return v.getBigInt64(at, true);
      case 'bool': {
        const b = v.getUint8(at);
        if (b > 1) this.fail(`${what} at byte ${at} is a bool holding ${b}; only 0 and 1 are valid`);
        return b === 1;
      }
    }
  }
  valueType(what: string): GgufScalarType | 'array' {
    const at = this.pos;
    const id = this.u32(what);
    const t = VALUE_TYPE_BY_ID.get(id);
    if (!t) this.fail(`${what} at byte ${at} is ${id}, not a GGUF value type (0 .. 12)`);
    return t;
  }
}

/** Thrown by the reader when the header runs past the prefix it was given: read more and retry. */
class NeedMoreBytes extends Error {}

/** Bytes of a tensor of `type` with numpy-order `dims`, or null when its rows are not whole blocks. */
export function tensorBytes(type: GgmlType, dims: number[]): number | null {
  const info = typeInfo(type);
  const cols = dims.at(-1) ?? 1;
  if (cols % info.blockSize !== 0) return null;
  return (dims.reduce((a, b) => a * b, 1) / info.blockSize) * info.blockBytes;
}

function acceptedType(info: GgmlTypeInfo, types: GgufTypes): boolean {
  if (info.name === 'F32' || info.name === 'F16' || info.name === 'BF16') return true;
  return types === 'compute' && isQuantType(info.name);
}

function refusal(info: GgmlTypeInfo | undefined, id: number, at: number, types: GgufTypes): string {
  const name = info ? ` (${info.name})` : '';
  if (types === 'float') return `has ggml type ${id}${name} at byte ${at}; only F32, F16 and BF16 are supported`;
  return `has ggml type ${id}${name} at byte ${at}, which tabtune does not compute with; it reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and Q2_K .. Q6_K (every type of llama.cpp's Q2_K .. Q8_0 files and their _S/_M/_L mixes): use a file in one of those, e.g. Q4_K_M`;
}

/**
 * Parses and validates a GGUF v2/v3 header from the first bytes of a `fileSize`-byte file: magic,
 * version, counts, value types, tensor infos (unique names, 1-4 dims, accepted types, rows of whole
 * blocks), alignment, and that every tensor's offset is the one llama.cpp expects (packed in order,
 * each padded to the alignment) and its data lies inside the file. Throws NeedMoreBytes when the
 * header is longer than `bytes`. Errors are FormatError (TensorError for a tensor at fault) naming `file`.
 */
function parseHeader(bytes: Uint8Array, fileSize: number, file: string, types: GgufTypes): GgufHeader {
  const r: Reader = new Reader(bytes, file, fileSize); // annotated, so that r.fail() narrows types
  r.need(4, 'the magic "GGUF"');
  const magic = bytes.subarray(0, 4);
  if (String.fromCharCode(...magic) !== GGUF_MAGIC) {
    r.fail(`is not a GGUF file: it starts with bytes ${[...magic].map((b) => b.toString(16).padStart(2, '0')).join(' ')}, not "GGUF" (47 47 55 46)`);
  }
  r.pos = 4;
  const version = r.u32('the version');
  if (!READABLE_VERSIONS.includes(version)) {
    r.fail(`is GGUF version ${version}; versions 2 and 3 are supported${version === 1 ? ' (re-convert it with a current llama.cpp)' : ''}`);
  }
  // Each tensor info takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes;
  // each key/value at least 8 (key length) + 4 (type) + 1 (value).
  const nTensors = r.u64('the tensor count', Math.floor((r.remaining - 8) / 24), 'more tensors than the rest of the file has room for (is it truncated or corrupt?)');
  const nKv = r.u64('the metadata count', Math.floor((r.remaining - 8) / 13), 'more key/values than the rest of the file has room for (is it truncated or corrupt?)');

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = r.string(`metadata key #${i}`);
    if (metadata.has(key)) r.fail(`metadata key "${key}" appears twice`);
    const type = r.valueType(`the type of metadata "${key}"`);
    if (type === 'array') {
      const itemType = r.valueType(`the item type of metadata array "${key}"`);
      if (itemType === 'array') r.fail(`metadata "${key}" is an array of arrays, which is not supported`);
      const minItem = itemType === 'string' ? 8 : FIXED_BYTES[itemType];
      const n = r.u64(`the length of metadata array "${key}"`, Math.floor((r.remaining - 8) / minItem), 'more items than the rest of the file has room for (is it truncated or corrupt?)');
      const value: GgufScalar[] = new Array<GgufScalar>(n);
      for (let j = 0; j < n; j++) value[j] = r.scalar(itemType, `item ${j} of metadata "${key}"`);
      metadata.set(key, { type: 'array', itemType, value });
    } else {
      metadata.set(key, { type, value: r.scalar(type, `metadata "${key}"`) });
    }
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = metadata.get('general.alignment');
  if (al) {
    if (al.type !== 'u32') r.fail(`metadata "general.alignment" must be a u32, got ${al.type}`);
    if (!isPowerOfTwo(al.value as number)) r.fail(`metadata "general.alignment" is ${String(al.value)}; it must be a power of two`);
    alignment = al.value as number;
  }

  const infos: GgufTensorInfo[] = [];
  const names = new Set<string>();
  let expectedOffset = 0;
  for (let i = 0; i < nTensors; i++) {
    const name = r.string(`the name of tensor #${i}`);
    if (names.has(name)) r.fail(`tensor "${name}" is listed twice`);
    names.add(name);
    const nDims = r.u32(`the dimension count of tensor "${name}"`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new TensorError(file, name, `has ${nDims} dimensions; ggml allows 1 to ${MAX_DIMS}`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) {
      ne.push(r.u64(`dimension ${d} of tensor "${name}"`, Number.MAX_SAFE_INTEGER, 'too large'));
    }
    const typeAt = r.pos;
    const typeId = r.u32(`the type of tensor "${name}"`);
    const info = GGML_TYPES_BY_ID.get(typeId);
    if (!info || !acceptedType(info, types)) throw new TensorError(file, name, refusal(info, typeId, typeAt, types));
    const type = info.name as GgmlType;
    const offset = r.u64(`the data offset of tensor "${name}"`, Number.MAX_SAFE_INTEGER, 'too large');
    const dims = [...ne].reverse();
    const size = tensorBytes(type, dims);
    if (size === null) {
      throw new TensorError(file, name, `has rows of ${ne[0]} values, not a multiple of the ${type} block size ${info.blockSize}; the file is corrupt`);
    }
    if (!Number.isSafeInteger(size) || size > fileSize) {
      throw new TensorError(file, name, `has dims [${dims}] of ${type} (${size} bytes), larger than the whole file (${fileSize} bytes)`);
    }
    if (offset % alignment !== 0) throw new TensorError(file, name, `has data offset ${offset}, not a multiple of the alignment ${alignment}`);
    if (offset !== expectedOffset) {
      throw new TensorError(file, name, `has data offset ${offset}, expected ${expectedOffset} (tensors must be packed in order, each padded to ${alignment} bytes)`);
    }
    expectedOffset += padTo(size, alignment);
    infos.push({ name, dims, type, offset, size });
  }

  const dataStart = padTo(r.pos, alignment);
  if (dataStart > fileSize && infos.length > 0) {
    r.fail(`is truncated: the tensor data section should start at byte ${dataStart}, but the file ends at byte ${fileSize}`);
  }
  for (const t of infos) {
    t.offset += dataStart;
    const end = t.offset + t.size;
    if (end > fileSize) {
      throw new TensorError(file, t.name, `needs bytes ${t.offset} .. ${end} (${t.size} bytes of ${t.type}), but the file ends at byte ${fileSize}: it is truncated`);
    }
  }
  return { version, metadata, tensors: infos, alignment, dataStart };
}

/**
 * Parses and validates a whole GGUF file held in memory (an adapter: float tensors only unless
 * `types` says otherwise); tensors are views into `bytes`.
 */
export function readGguf(bytes: Uint8Array, file = 'adapter.gguf', types: GgufTypes = 'float'): GgufFile {
  const h = parseHeader(bytes, bytes.byteLength, file, types);
  const tensors = h.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: bytes.subarray(t.offset, t.offset + t.size) }));
  return { version: h.version, metadata: h.metadata, tensors };
}

/**
 * Reads and validates the header of a GGUF file of any size, fetching only as many of its first
 * bytes as the header takes (a tokenizer's metadata can be megabytes; the tensors are not read).
 */
export async function readGgufHeader(src: ByteSource, types: GgufTypes = 'compute'): Promise<GgufHeader> {
  let length = Math.min(src.size, 1 << 20);
  for (;;) {
    try {
      return parseHeader(await src.read(0, length), src.size, src.name, types);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes) || length >= src.size) throw e;
      length = Math.min(src.size, length * 4);
    }
  }
}
