// The browser's model cache (storage/model-cache.ts) behind hubFiles, with a fake Cache: Node has no
// Cache Storage. The fake keeps what the real one promises and nothing more: put reads the whole
// body and stores nothing when the body errors. The hub is a stand-in on 127.0.0.1.

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.ts';
import { hubFiles, hubUrl, type HubOptions, type HubProgress } from '../../src/formats/hub-files.ts';
import { modelCache, type CacheLike } from '../../src/storage/model-cache.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

const DEMO = join(import.meta.dirname, '..', '..', 'public', 'models', 'kjv-llama');
const WEIGHTS = 'model.safetensors';
const SIZE = statSync(join(DEMO, WEIGHTS)).size;
const WEIGHT_BYTES = readFileSync(join(DEMO, WEIGHTS));
const FAST = 'tabtune-test/kjv-llama';
const SLOW = 'tabtune-test/slow-llama';

class FakeCache implements CacheLike {
  readonly entries = new Map<string, { body: Uint8Array; status: number; headers: [string, string][] }>();
  /** Thrown by put after it has read the body, as a quota error arrives at the end of a real put. */
  failPut: Error | null = null;

  async match(url: string): Promise<Response | undefined> {
    const e = this.entries.get(url);
    if (!e) return undefined;
    return new Response(e.status === 404 ? null : e.body.slice(), { status: e.status, headers: e.headers });
  }

  async put(url: string, res: Response): Promise<void> {
    const body = new Uint8Array(await res.arrayBuffer());
    if (this.failPut) throw this.failPut;
    this.entries.set(url, { body, status: res.status, headers: [...res.headers] });
  }

  async delete(url: string): Promise<boolean> {
    return this.entries.delete(url);
  }
}

let hub: HubServer;

beforeAll(async () => {
  hub = await startHubServer({
    [FAST]: { dir: DEMO },
    [SLOW]: { dir: DEMO, slow: { files: [WEIGHTS], chunk: 32768, delayMs: 20 } },
  });
});

afterAll(async () => {
  await hub.close();
});

function setup(fake: CacheLike, extra: Partial<HubOptions> = {}, estimate?: () => Promise<StorageEstimate>) {
  const progress: HubProgress[] = [];
  const warnings: string[] = [];
  const files = hubFiles({
    repo: FAST, hubBase: hub.base, cache: modelCache(async () => fake, estimate),
    onProgress: (p) => progress.push(p), onWarning: (w) => warnings.push(w), ...extra,
  });
  return { files, progress, warnings };
}

const url = (repo: string, file: string) => hubUrl({ repo, hubBase: hub.base }, file);

describe('model cache behind hubFiles', () => {
  it('streams a download into the cache; the next load reads it locally, with no request', async () => {
    const fake = new FakeCache();
    const before = hub.count(FAST, WEIGHTS);
    const first = setup(fake);
    const src = (await first.files.get(WEIGHTS))!;
    expect(Buffer.compare(await src.read(0, SIZE), WEIGHT_BYTES)).toBe(0);
    expect(await src.read(100, 8)).toEqual(new Uint8Array(WEIGHT_BYTES.subarray(100, 108)));
    expect(src.name).toBe(`${FAST}/${WEIGHTS}`);
    expect(first.progress.at(-1)).toMatchObject({ loaded: SIZE, total: SIZE, cached: false, done: true });
    expect(fake.entries.get(url(FAST, WEIGHTS))?.body.byteLength).toBe(SIZE);
    expect(first.warnings).toEqual([]);

    const second = setup(fake);
    const again = (await second.files.get(WEIGHTS))!;
    expect(Buffer.compare(await again.read(0, SIZE), WEIGHT_BYTES)).toBe(0);
    expect(second.progress).toEqual([{ file: WEIGHTS, loaded: SIZE, total: SIZE, bytesPerSecond: 0, cached: true, done: true }]);
    expect(hub.count(FAST, WEIGHTS) - before).toBe(1);
  });

  it('remembers a file the hub does not have, so probing for it stays local too', async () => {
    const fake = new FakeCache();
    const before = hub.requests.length;
    expect(await setup(fake).files.get('tokenizer.model')).toBeNull();
    expect(await setup(fake).files.get('tokenizer.model')).toBeNull();
    expect(hub.requests.length - before).toBe(1);
    // A missing repo is a mistake to report, not a file to remember as missing.
    await expect(setup(fake, { repo: 'nobody/nothing' }).files.get('config.json')).rejects.toThrow(FormatError);
    expect([...fake.entries.keys()].filter((k) => k.includes('nobody'))).toEqual([]);
  });

  it('keeps nothing of a cancelled download', async () => {
    const fake = new FakeCache();
    const controller = new AbortController();
    const { files } = setup(fake, {
      repo: SLOW,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.loaded > 100_000) controller.abort(new DOMException('cancelled', 'AbortError'));
      },
    });
    await expect(files.get(WEIGHTS)).rejects.toMatchObject({ name: 'AbortError' });
    expect(fake.entries.has(url(SLOW, WEIGHTS))).toBe(false);
    // A later load downloads it whole and keeps it.
    const before = hub.count(SLOW, WEIGHTS);
    expect((await setup(fake, { repo: SLOW }).files.get(WEIGHTS))!.size).toBe(SIZE);
    expect(hub.count(SLOW, WEIGHTS) - before).toBe(1);
    expect(fake.entries.get(url(SLOW, WEIGHTS))?.body.byteLength).toBe(SIZE);
  });

  it('keeps nothing of a body shorter than promised, and reports the download error', async () => {
    const fake = new FakeCache();
    const cut: typeof fetch = async () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new Uint8Array(1000));
            c.close();
          },
        }),
        { headers: { 'content-length': '5000' } },
      );
    const err = await setup(fake, { fetch: cut }).files.get(WEIGHTS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toContain('ended after 1000 of 5000 bytes');
    expect(fake.entries.size).toBe(0);
  });

  it('warns and keeps loading without the cache when the quota runs out while storing', async () => {
    const fake = new FakeCache();
    fake.failPut = new DOMException('Quota exceeded.', 'QuotaExceededError');
    const before = hub.count(FAST, WEIGHTS);
    const { files, warnings } = setup(fake);
    const src = (await files.get(WEIGHTS))!;
    expect(Buffer.compare(await src.read(0, SIZE), WEIGHT_BYTES)).toBe(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("storage for this site is full");
    expect(warnings[0]).toContain('will be downloaded again next time');
    // The first body went to the cache that refused it, so the file was fetched once more.
    expect(hub.count(FAST, WEIGHTS) - before).toBe(2);
    // The cache is left alone for the rest of this load: no second warning, nothing stored.
    fake.failPut = null;
    expect(await files.get('config.json')).not.toBeNull();
    expect(warnings).toHaveLength(1);
    expect(fake.entries.size).toBe(0);
  });

  it('does not stream a file into a cache without room for it, but keeps the small ones', async () => {
    const fake = new FakeCache();
    const { files, warnings } = setup(fake, {}, async () => ({ quota: 100_000, usage: 10_000 }));
    expect((await files.get(WEIGHTS))!.size).toBe(SIZE);
    expect((await files.get('config.json'))!.size).toBeGreaterThan(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/model\.safetensors \(1\.\d MiB\) is not kept for next time/);
    expect(fake.entries.has(url(FAST, WEIGHTS))).toBe(false);
    expect(fake.entries.has(url(FAST, 'config.json'))).toBe(true);
  });

  it('does not trust an entry shorter than the size stored with it', async () => {
    const fake = new FakeCache();
    fake.entries.set(url(FAST, WEIGHTS), { body: new Uint8Array(10), status: 200, headers: [['x-tabtune-bytes', String(SIZE)]] });
    const before = hub.count(FAST, WEIGHTS);
    const { files, progress } = setup(fake);
    expect((await files.get(WEIGHTS))!.size).toBe(SIZE);
    expect(progress.at(-1)?.cached).toBe(false);
    expect(hub.count(FAST, WEIGHTS) - before).toBe(1);
    expect(fake.entries.get(url(FAST, WEIGHTS))?.body.byteLength).toBe(SIZE);
  });

  it('loads from the network, warning once, when the cache cannot be opened', async () => {
    const warnings: string[] = [];
    const files = hubFiles({
      repo: FAST, hubBase: hub.base, onWarning: (w) => warnings.push(w),
      cache: modelCache(() => Promise.reject(new DOMException('The operation is insecure.', 'SecurityError'))),
    });
    expect((await files.get(WEIGHTS))!.size).toBe(SIZE);
    expect((await files.get('config.json'))!.size).toBeGreaterThan(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('could not be read (The operation is insecure.)');
  });
});
