// Feeding dataset bytes to readDataset the way files arrive: in chunks of a chosen size.

import { expect } from 'vitest';
import { DatasetError } from '../../src/data/errors.ts';
import { readDataset, type ReadOptions, type ReadResult } from '../../src/data/read.ts';

const encoder = new TextEncoder();

export function bytesOf(content: string | Uint8Array): Uint8Array {
  return typeof content === 'string' ? encoder.encode(content) : content;
}

/** The bytes in chunks of `size` (the last one shorter). */
export async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

export function read(name: string, content: string | Uint8Array, opts?: ReadOptions, size = 65536): Promise<ReadResult> {
  return readDataset(name, chunked(bytesOf(content), size), opts);
}

/** Reads with 1-byte, 7-byte and 64 KiB chunks, checks all three agree, and returns one result. */
export async function readAllWays(name: string, content: string | Uint8Array, opts?: ReadOptions): Promise<ReadResult> {
  const [a, b, c] = await Promise.all([read(name, content, opts, 1), read(name, content, opts, 7), read(name, content, opts)]);
  expect(a).toEqual(c);
  expect(b).toEqual(c);
  return c;
}

/** The DatasetError a read throws (with 1-byte, 7-byte and 64 KiB chunks: the same message each time). */
export async function failure(name: string, content: string | Uint8Array, opts?: ReadOptions): Promise<DatasetError> {
  const errors: DatasetError[] = [];
  for (const size of [1, 7, 65536]) {
    let caught: unknown = null;
    try {
      await read(name, content, opts, size);
    } catch (e) {
      caught = e;
    }
    expect(caught, `reading ${name} should fail`).toBeInstanceOf(DatasetError);
    errors.push(caught as DatasetError);
  }
  expect(errors[0]!.message).toBe(errors[2]!.message);
  expect(errors[1]!.message).toBe(errors[2]!.message);
  return errors[2]!;
}

/** Lines joined with "\n" (and a final newline). */
export function jsonl(...rows: unknown[]): string {
  return rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
}
