import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileChunks, readDatasetFromFile } from '../../src/data/browser-read.ts';
import { readDataset } from '../../src/data/read.ts';
import { DatasetError } from '../../src/data/errors.ts';
import { nodeFileChunks, readDatasetFile } from '../../src/data/node-read.ts';
import { jsonl } from './read-helpers.ts';

describe('reading from disk (Node)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tabtune-read-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file in 1 MiB chunks, naming it by the path given', async () => {
    const path = join(dir, 'train.jsonl');
    const row = { prompt: 'Übersetze: Katze 🐈', completion: ' cat' };
    const n = 40_000; // about 2.4 MB: more than one chunk
    writeFileSync(path, jsonl(...Array.from({ length: n }, () => row)));
    let chunks = 0;
    for await (const c of nodeFileChunks(path)) {
      expect(c.length).toBeLessThanOrEqual(1 << 20);
      chunks++;
    }
    expect(chunks).toBe(3);
    const r = await readDatasetFile(path);
    expect(r.format).toBe('completion');
    expect(r.examples).toHaveLength(n);
    expect(r.examples[n - 1]).toEqual({ example: { kind: 'completion', ...row }, source: { file: path, line: n } });
  });

  it('names the path in row errors and when the file cannot be read', async () => {
    const path = join(dir, 'bad.csv');
    writeFileSync(path, 'text\n"open\n');
    await expect(readDatasetFile(path)).rejects.toThrow(`${path} line 2: has a quoted field that is never closed`);
    const missing = join(dir, 'missing.jsonl');
    const e = await readDatasetFile(missing).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatasetError);
    expect((e as DatasetError).message).toMatch(new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot be read \\(ENOENT`));
  });

  it('passes options through', async () => {
    const path = join(dir, 'book.txt');
    writeFileSync(path, 'one\n\ntwo\n');
    expect((await readDatasetFile(path)).examples).toHaveLength(2);
    expect((await readDatasetFile(path, { txtMode: 'stream' })).examples).toHaveLength(1);
  });
});

describe('reading a File or Blob (browser)', () => {
  it('streams a Blob', async () => {
    const blob = new Blob(['{"text": "a"}\n', new Uint8Array([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0xa9, 0x22, 0x7d])]);
    let bytes = 0;
    for await (const c of fileChunks(blob)) bytes += c.length;
    expect(bytes).toBe(blob.size);
  });

  it('reads a dropped File by its name', async () => {
    const file = new File([jsonl({ messages: [{ role: 'user', content: 'Hi 👋' }, { role: 'assistant', content: 'Hello!' }] })], 'chat.jsonl');
    const r = await readDatasetFromFile(file);
    expect(r.format).toBe('chat');
    expect(r.examples[0]!.source).toEqual({ file: 'chat.jsonl', line: 1 });
    const csv = new File(['prompt,completion\n"a, b",c\n'], 'pairs.csv');
    expect((await readDatasetFromFile(csv)).examples[0]!.example).toEqual({ kind: 'completion', prompt: 'a, b', completion: 'c' });
    await expect(readDatasetFromFile(new File([], 'empty.jsonl'))).rejects.toThrow('empty.jsonl: holds no examples');
  });

  it('cancels the read when reading stops early', async () => {
    let cancelled = false;
    let pulls = 0;
    const enc = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(enc.encode(pulls++ === 0 ? '{"text": 1}\n' : '{"text": "more"}\n'.repeat(1000)));
      },
      cancel() {
        cancelled = true;
      },
    });
    const blob = { stream: () => stream } as unknown as Blob;
    await expect(readDataset('big.jsonl', fileChunks(blob))).rejects.toThrow('big.jsonl line 1: "text" must be a string, got a number');
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThan(10);
  });
});
