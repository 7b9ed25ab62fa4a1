import { describe, it, expect } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCheckpoint, readTensorBytes } from '../../src/formats/checkpoint.ts';
import { toFloat32 } from '../../src/formats/dtype.ts';
import { FormatError, TensorError } from '../../src/formats/errors.ts';
import { nodeDirFiles, nodeFileSource } from '../../src/formats/node-files.ts';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import type { TensorToWrite } from '../../src/formats/safetensors-write.ts';
import { f32Bytes, useTempDirs } from './helpers.ts';

const tempDir = useTempDirs();

const t = (name: string, values: number[]): TensorToWrite => ({ name, dtype: 'F32', shape: [values.length], data: f32Bytes(values) });

async function writeModel(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = await tempDir();
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

const index = (weightMap: Record<string, string>) => JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap });

const SHARD1 = 'model-00001-of-00002.safetensors';
const SHARD2 = 'model-00002-of-00002.safetensors';

async function failure(p: Promise<unknown>): Promise<FormatError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FormatError);
  return e as FormatError;
}

describe('openCheckpoint', () => {
  it('opens a single model.safetensors and reads tensors', async () => {
    const dir = await writeModel({ 'model.safetensors': writeSafetensors([t('a', [1, 2, 3]), t('b', [4])]) });
    const ckpt = await openCheckpoint(nodeDirFiles(dir));
    expect(ckpt.files).toEqual(['model.safetensors']);
    expect([...ckpt.tensors.keys()]).toEqual(['a', 'b']);
    expect(ckpt.totalBytes).toBe(16);
    const a = ckpt.tensors.get('a')!;
    expect(a).toMatchObject({ name: 'a', dtype: 'F32', shape: [3], file: 'model.safetensors' });
    expect(a.source.name).toBe(join(dir, 'model.safetensors'));
    expect([...toFloat32('F32', await readTensorBytes(a))]).toEqual([1, 2, 3]);
    expect([...toFloat32('F32', await readTensorBytes(ckpt.tensors.get('b')!))]).toEqual([4]);
  });

  it('opens a sharded checkpoint through its index', async () => {
    const dir = await writeModel({
      [SHARD1]: writeSafetensors([t('model.embed_tokens.weight', [1, 2]), t('model.layers.0.w', [3])]),
      [SHARD2]: writeSafetensors([t('model.norm.weight', [5, 6, 7])]),
      'model.safetensors.index.json': index({
        'model.embed_tokens.weight': SHARD1,
        'model.layers.0.w': SHARD1,
        'model.norm.weight': SHARD2,
      }),
    });
    const ckpt = await openCheckpoint(nodeDirFiles(dir));
    expect(ckpt.files).toEqual([SHARD1, SHARD2]);
    expect(ckpt.tensors.size).toBe(3);
    expect(ckpt.totalBytes).toBe(24);
    const norm = ckpt.tensors.get('model.norm.weight')!;
    expect(norm.file).toBe(SHARD2);
    expect([...toFloat32('F32', await readTensorBytes(norm))]).toEqual([5, 6, 7]);
    expect([...toFloat32('F32', await readTensorBytes(ckpt.tensors.get('model.embed_tokens.weight')!))]).toEqual([1, 2]);
  });

  it('prefers model.safetensors over an index', async () => {
    const dir = await writeModel({
      'model.safetensors': writeSafetensors([t('a', [1])]),
      'model.safetensors.index.json': index({ a: SHARD1 }),
    });
    expect((await openCheckpoint(nodeDirFiles(dir))).files).toEqual(['model.safetensors']);
  });

  it('names the folder and the files looked for when there are no weights', async () => {
    const dir = await writeModel({ 'config.json': '{}', 'pytorch_model.bin': 'x' });
    const e = await failure(openCheckpoint(nodeDirFiles(dir)));
    expect(e.file).toBe(dir);
    expect(e.message).toContain('model.safetensors"');
    expect(e.message).toContain('model.safetensors.index.json');
  });

  it('names the missing shard and the index file', async () => {
    const dir = await writeModel({
      [SHARD1]: writeSafetensors([t('a', [1])]),
      'model.safetensors.index.json': index({ a: SHARD1, b: SHARD2 }),
    });
    const e = await failure(openCheckpoint(nodeDirFiles(dir)));
    expect(e.file).toBe(join(dir, 'model.safetensors.index.json'));
    expect(e.message).toContain(SHARD2);
    expect(e.message).toContain('missing');
  });

  it('rejects a tensor stored in two shards', async () => {
    const dir = await writeModel({
      [SHARD1]: writeSafetensors([t('a', [1]), t('dup', [2])]),
      [SHARD2]: writeSafetensors([t('dup', [3])]),
      'model.safetensors.index.json': index({ a: SHARD1, dup: SHARD2 }),
    });
    const e = await failure(openCheckpoint(nodeDirFiles(dir)));
    expect(e).toBeInstanceOf(TensorError);
    expect((e as TensorError).tensor).toBe('dup');
    expect(e.message).toContain(SHARD1);
    expect(e.message).toContain(SHARD2);
  });

  it('rejects an index entry whose shard does not hold the tensor', async () => {
    const dir = await writeModel({
      [SHARD1]: writeSafetensors([t('a', [1])]),
      [SHARD2]: writeSafetensors([t('b', [2])]),
      'model.safetensors.index.json': index({ a: SHARD1, b: SHARD1, c: SHARD2 }),
    });
    const e = await failure(openCheckpoint(nodeDirFiles(dir)));
    expect(e).toBeInstanceOf(TensorError);
    expect(e.file).toBe(join(dir, 'model.safetensors.index.json'));
    expect((e as TensorError).tensor).toBe('b');
    expect(e.message).toContain(`shard "${SHARD1}"`);
    expect(e.message).toContain(`it is in "${SHARD2}"`);

    const dir2 = await writeModel({
      [SHARD1]: writeSafetensors([t('a', [1])]),
      'model.safetensors.index.json': index({ a: SHARD1, ghost: SHARD1 }),
    });
    const e2 = await failure(openCheckpoint(nodeDirFiles(dir2)));
    expect((e2 as TensorError).tensor).toBe('ghost');
    expect(e2.message).toContain('does not hold it');
  });

  it('rejects a broken index and shard paths outside the folder', async () => {
    const bad = async (text: string, ...fragments: string[]) => {
      const dir = await writeModel({ 'model.safetensors.index.json': text });
      const e = await failure(openCheckpoint(nodeDirFiles(dir)));
      expect(e.message).toContain('model.safetensors.index.json');
      for (const f of fragments) expect(e.message).toContain(f);
    };
    await bad('{"weight_map": ', 'not valid JSON');
    await bad('{"metadata": {}}', 'weight_map');
    await bad(index({}), 'empty');
    await bad(index({ a: '../elsewhere.safetensors' }), 'tensor "a"', 'inside the model folder');
    await bad(index({ a: '/etc/passwd' }), 'tensor "a"');
  });

  it('names the shard when a shard is corrupt', async () => {
    const shard = writeSafetensors([t('a', [1, 2])]);
    const dir = await writeModel({
      [SHARD1]: shard.subarray(0, shard.byteLength - 4),
      'model.safetensors.index.json': index({ a: SHARD1 }),
    });
    const e = await failure(openCheckpoint(nodeDirFiles(dir)));
    expect(e.file).toBe(join(dir, SHARD1));
    expect(e.message).toContain('truncated');
  });
});

describe('node files', () => {
  it('reads byte ranges of a file and refuses reads past the end', async () => {
    const dir = await writeModel({ 'x.bin': new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) });
    const src = await nodeFileSource(join(dir, 'x.bin'));
    expect(src.size).toBe(10);
    expect([...(await src.read(3, 4))]).toEqual([3, 4, 5, 6]);
    expect([...(await src.read(10, 0))]).toEqual([]);
    await expect(src.read(8, 3)).rejects.toThrow(/past the end/);
  });

  it('nodeDirFiles returns null for a missing file and finds nested ones', async () => {
    const dir = await writeModel({ 'sub/a.txt': 'hello', 'b.txt': 'x' });
    const files = nodeDirFiles(dir);
    expect(files.name).toBe(dir);
    expect(await files.get('missing.json')).toBeNull();
    expect(await files.get('b.txt/nope')).toBeNull();
    expect((await files.get('sub/a.txt'))!.size).toBe(5);
    await expect(files.get('../outside')).rejects.toThrow(FormatError);
    await expect(files.get('sub')).rejects.toThrow(/not a regular file/);
  });
});
