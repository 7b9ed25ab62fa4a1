import { describe, it, expect } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { fromFloat32, toFloat32 } from '../../src/formats/dtype.ts';
import { FormatError, TensorError } from '../../src/formats/errors.ts';
import { MAX_HEADER_BYTES, readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { f32Bytes, rawSafetensors, spySource } from './helpers.ts';

const FILE = 'weights/model.safetensors';

/** Rejects with `cls`, and the message names the file plus every given fragment. */
async function rejects(bytes: Uint8Array, cls: new (...args: never[]) => FormatError, ...fragments: string[]): Promise<FormatError> {
  const err = await readSafetensorsHeader(bytesSource(FILE, bytes)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  const fe = err as FormatError;
  expect(fe.file).toBe(FILE);
  expect(fe.message).toContain(FILE);
  for (const f of fragments) expect(fe.message).toContain(f);
  return fe;
}

const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });

describe('readSafetensorsHeader', () => {
  it('reads back what writeSafetensors wrote (F32, F16, BF16, padded header, format pt)', async () => {
    const a = [1, -2.5, 3.25, 0, 1e-3, -7];
    const b = [0.5, -1, 65504, 2 ** -24];
    const c = [1, 2, -0.15625, 256];
    const bytes = writeSafetensors([
      { name: 'model.a', dtype: 'F32', shape: [2, 3], data: f32Bytes(a) },
      { name: 'model.b', dtype: 'F16', shape: [4], data: fromFloat32('F16', b) },
      { name: 'model.c', dtype: 'BF16', shape: [2, 2], data: fromFloat32('BF16', c) },
    ]);
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);

    const src = bytesSource(FILE, bytes);
    const h = await readSafetensorsHeader(src);
    expect(h.file).toBe(FILE);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect([...h.tensors.keys()]).toEqual(['model.a', 'model.b', 'model.c']);
    const ta = h.tensors.get('model.a')!;
    expect(ta).toEqual({ name: 'model.a', dtype: 'F32', shape: [2, 3], byteOffset: 8 + headerLen, byteLength: 24 });
    expect(h.tensors.get('model.b')).toMatchObject({ dtype: 'F16', shape: [4], byteOffset: 8 + headerLen + 24, byteLength: 8 });
    expect(h.tensors.get('model.c')).toMatchObject({ dtype: 'BF16', shape: [2, 2], byteOffset: 8 + headerLen + 32, byteLength: 8 });

    const read = async (name: string) => {
      const t = h.tensors.get(name)!;
      return src.read(t.byteOffset, t.byteLength);
    };
    expect([...toFloat32('F32', await read('model.a'))]).toEqual(Array.from(Float32Array.from(a)));
    expect([...toFloat32('F16', await read('model.b'))]).toEqual(b);
    expect([...toFloat32('BF16', await read('model.c'))]).toEqual(c);
  });

  it('accepts a header with only metadata, empty tensors, scalars, extra spaces and no metadata', async () => {
    const h = await readSafetensorsHeader(bytesSource(FILE, rawSafetensors('{"__metadata__":{"format":"pt"}}', 0)));
    expect(h.tensors.size).toBe(0);

    const text = JSON.stringify({ empty: entry('F32', [0, 3], 0, 0), s: entry('I64', [], 0, 8), flag: entry('BOOL', [2], 8, 10) }) + '     ';
    const h2 = await readSafetensorsHeader(bytesSource(FILE, rawSafetensors(text, 10)));
    expect(h2.metadata).toEqual({});
    expect(h2.tensors.get('empty')).toMatchObject({ shape: [0, 3], byteLength: 0 });
    expect(h2.tensors.get('s')).toMatchObject({ dtype: 'I64', shape: [], byteLength: 8 });
    expect(h2.tensors.get('flag')).toMatchObject({ dtype: 'BOOL', byteLength: 2 });
  });

  it('rejects a file shorter than 8 bytes', async () => {
    await rejects(new Uint8Array(5), FormatError, '5 bytes', 'too short');
    await rejects(new Uint8Array(0), FormatError, '0 bytes');
  });

  it('rejects a header length over the limit without reading or allocating it', async () => {
    for (const len of [BigInt(MAX_HEADER_BYTES + 1), 2n ** 63n, 2n ** 64n - 1n]) {
      const bytes = rawSafetensors('{}', 0, len);
      await rejects(bytes, FormatError, `${len}-byte header`, 'limit');
      const spy = spySource(FILE, bytes);
      await expect(readSafetensorsHeader(spy)).rejects.toThrow(FormatError);
      expect(spy.reads).toEqual([[0, 8]]);
    }
  });

  it('rejects a header length larger than the file, before reading it', async () => {
    const bytes = rawSafetensors('{}', 0, 4096n);
    await rejects(bytes, FormatError, '4096-byte header', `only ${bytes.byteLength} bytes`);
    const spy = spySource(FILE, bytes);
    await expect(readSafetensorsHeader(spy)).rejects.toThrow(FormatError);
    expect(spy.reads).toEqual([[0, 8]]);
  });

  it('rejects headers that are not a JSON object starting with "{"', async () => {
    await rejects(rawSafetensors('{"a": ', 0), FormatError, 'not valid JSON');
    await rejects(rawSafetensors(' {}', 0), FormatError, 'does not start with "{"');
    await rejects(rawSafetensors('[]', 0), FormatError, 'does not start with "{"');
    const badUtf8 = rawSafetensors('{"x"}', 0);
    badUtf8[9] = 0xff;
    await rejects(badUtf8, FormatError, 'UTF-8');
  });

  it('rejects a tensor listed twice, which JSON.parse would silently merge', async () => {
    const text = '{"w": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "w": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    const e = await rejects(rawSafetensors(text, 4), TensorError, 'tensor "w"', 'twice');
    expect((e as TensorError).tensor).toBe('w');
  });

  it('does not mistake nested keys or escaped quotes for duplicate tensors', async () => {
    const header = {
      __metadata__: { format: 'pt', 'a"b': 'x', dtype: 'y' },
      'a"b': entry('F32', [1], 0, 4),
      'c\\': entry('F32', [1], 4, 8),
      dtype: entry('U8', [1], 8, 9),
    };
    const h = await readSafetensorsHeader(bytesSource(FILE, rawSafetensors(header, 9)));
    expect([...h.tensors.keys()]).toEqual(['a"b', 'c\\', 'dtype']);
    expect(h.metadata['a"b']).toBe('x');
  });

  it('rejects an unknown dtype, naming the tensor', async () => {
    await rejects(rawSafetensors({ 'layers.0.w': entry('F8_E4M3', [4], 0, 4) }, 4), TensorError, 'tensor "layers.0.w"', '"F8_E4M3"', 'BF16');
    await rejects(rawSafetensors({ w: { shape: [1], data_offsets: [0, 4] } }, 4), TensorError, 'tensor "w"', 'dtype');
  });

  it('rejects a shape that is not a list of non-negative integers', async () => {
    for (const shape of [[-1], [1.5], ['2'], 3, null, [2 ** 60]]) {
      await rejects(rawSafetensors({ w: { dtype: 'F32', shape, data_offsets: [0, 4] } }, 4), TensorError, 'tensor "w"', 'shape');
    }
    // Each dimension is fine, the product is not addressable.
    await rejects(rawSafetensors({ w: entry('F32', [2 ** 30, 2 ** 30], 0, 4) }, 4), TensorError, 'tensor "w"', 'too many elements');
  });

  it('rejects malformed data_offsets', async () => {
    for (const offs of [[0], [0, 4, 8], [-4, 0], [0, '4'], 'x']) {
      await rejects(rawSafetensors({ w: { dtype: 'F32', shape: [1], data_offsets: offs } }, 4), TensorError, 'tensor "w"', 'data_offsets');
    }
  });

  it('rejects offsets that leave a hole, overlap, or do not start at 0', async () => {
    await rejects(rawSafetensors({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) }, 12), TensorError, 'tensor "b"', 'hole', 'contiguous');
    await rejects(rawSafetensors({ a: entry('F32', [2], 0, 8), b: entry('F32', [1], 4, 8) }, 8), TensorError, 'tensor "b"', 'overlap');
    await rejects(rawSafetensors({ a: entry('F32', [1], 4, 8) }, 8), TensorError, 'tensor "a"', 'contiguous');
    await rejects(rawSafetensors({ a: entry('F32', [1], 8, 4) }, 8), TensorError, 'tensor "a"', 'end before they begin');
  });

  it('rejects a byte range that does not match shape and dtype', async () => {
    await rejects(rawSafetensors({ w: entry('F16', [2, 3], 0, 24) }, 24), TensorError, 'tensor "w"', '24 bytes', 'needs 12');
  });

  it('rejects trailing bytes after the tensor data', async () => {
    await rejects(rawSafetensors({ w: entry('F32', [2], 0, 8) }, 11), FormatError, '3 unexpected bytes');
  });

  it('rejects a truncated file with a message that says to download it again', async () => {
    const bytes = rawSafetensors({ w: entry('F32', [2, 3], 0, 24) }, 24);
    await rejects(bytes.subarray(0, bytes.byteLength - 10), FormatError, 'file is truncated: header promises 24 bytes of tensor data, the file holds 14; download it again');
  });

  it('rejects metadata that is not string -> string', async () => {
    await rejects(rawSafetensors({ __metadata__: { format: 'pt', step: 3 } }, 0), FormatError, '"step"', 'strings');
    await rejects(rawSafetensors({ __metadata__: ['pt'] }, 0), FormatError, '__metadata__');
  });

  it('rejects a tensor entry that is not an object', async () => {
    await rejects(rawSafetensors({ w: [1, 2] }, 0), TensorError, 'tensor "w"');
  });
});
