// Shared by the formats tests: temp folders and hand-built (possibly broken) safetensors files.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import type { ByteSource } from '../../src/formats/byte-source.ts';

/** A fresh folder under the OS temp dir, removed after the current test. */
export function useTempDirs(): () => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const d = await mkdtemp(join(tmpdir(), 'tabtune-formats-'));
    made.push(d);
    return d;
  };
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** 8-byte little-endian length, the header text as given, then `dataBytes` bytes. */
export function rawSafetensors(header: string | object, dataBytes: number, headerLength?: bigint): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(text.byteLength), true);
  out.set(text, 8);
  return out;
}

/** A source that records every read, to prove what was (not) read. */
export function spySource(name: string, bytes: Uint8Array): ByteSource & { reads: [number, number][] } {
  const inner = bytesSource(name, bytes);
  const reads: [number, number][] = [];
  return {
    name,
    size: inner.size,
    reads,
    read(offset, length) {
      reads.push([offset, length]);
      return inner.read(offset, length);
    },
  };
}
