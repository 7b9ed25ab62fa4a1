import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readText } from '../../src/formats/byte-source.ts';
import { openCheckpoint, readTensorBytes } from '../../src/formats/checkpoint.ts';
import { toFloat32 } from '../../src/formats/dtype.ts';
import { FormatError } from '../../src/formats/errors.ts';
import { DEFAULT_HUB_BASE, hubFiles, hubUrl, isRepoId } from '../../src/formats/hub-files.ts';
import type { HubOptions, HubProgress } from '../../src/formats/hub-files.ts';
import { cachedHubFiles, defaultCacheDir } from '../../src/formats/node-hub-cache.ts';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { f32Bytes, useTempDirs } from './helpers.ts';

const tempDir = useTempDirs();
const REPO = 'tiny-org/tiny-llama';
const BIG = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
const SHARD1 = 'model-00001-of-00002.safetensors';
const SHARD2 = 'model-00002-of-00002.safetensors';

/**
 * A stand-in for the hub: /{owner}/{name}/resolve/{revision}/{file} served from root/{owner}/{name}/{revision}/{file}.
 * boom.json answers 500; chunked.bin has no content-length; cut.bin promises more bytes than it sends.
 */
let server: Server;
let base: string;
let root: string;
const requests: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tabtune-hub-'));
  const repoDir = join(root, REPO, 'main');
  await mkdir(join(repoDir, 'sub dir'), { recursive: true });
  await writeFile(join(repoDir, 'config.json'), '{"model_type":"llama"}');
  await writeFile(join(repoDir, 'big.bin'), BIG);
  await writeFile(join(repoDir, 'sub dir', 'a#b.txt'), 'nested');
  await writeFile(join(repoDir, SHARD1), writeSafetensors([{ name: 'a', dtype: 'F32', shape: [2], data: f32Bytes([1, 2]) }]));
  await writeFile(join(repoDir, SHARD2), writeSafetensors([{ name: 'b', dtype: 'F32', shape: [1], data: f32Bytes([3]) }]));
  await writeFile(join(repoDir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: { a: SHARD1, b: SHARD2 } }));
  await mkdir(join(root, REPO, 'v2'), { recursive: true });
  await writeFile(join(root, REPO, 'v2', 'config.json'), '{"v":2}');

  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(400).end();
    const [owner, name, revision, file] = m.slice(1).map(decodeURIComponent) as [string, string, string, string];
    if (`${owner}/${name}` !== REPO) return void res.writeHead(404, { 'x-error-code': 'RepositoryNotFound' }).end('Repository not found');
    if (file === 'boom.json') return void res.writeHead(500, 'Internal Server Error').end('oops');
    if (file === 'chunked.bin') {
      res.writeHead(200);
      res.write(BIG.subarray(0, 1000));
      return void res.end(BIG.subarray(1000, 3000));
    }
    if (file === 'cut.bin') {
      res.writeHead(200, { 'content-length': String(BIG.byteLength) });
      res.write(BIG.subarray(0, 70_000), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    readFile(join(root, owner, name, revision, file)).then(
      (data) => {
        res.writeHead(200, { 'content-length': String(data.byteLength) });
        for (let i = 0; i < data.byteLength; i += 65536) res.write(data.subarray(i, i + 65536));
        res.end();
      },
      () => res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found'),
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
  await rm(root, { recursive: true, force: true });
});

function opts(extra: Partial<HubOptions> = {}): HubOptions & { progress: HubProgress[] } {
  const progress: HubProgress[] = [];
  return { repo: REPO, hubBase: base, onProgress: (p) => progress.push(p), progress, ...extra };
}

/** Byte-wise equality; vitest's deep equality is slow on big arrays. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

async function failure(p: Promise<unknown>): Promise<FormatError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FormatError);
  return e as FormatError;
}

describe('hubUrl / isRepoId', () => {
  it('builds resolve URLs without double slashes, encoding path segments', () => {
    expect(hubUrl({ repo: 'HuggingFaceTB/SmolLM2-135M' }, 'config.json')).toBe(`${DEFAULT_HUB_BASE}/HuggingFaceTB/SmolLM2-135M/resolve/main/config.json`);
    expect(hubUrl({ repo: 'a/b', hubBase: 'http://h:1/mirror/', revision: 'v1.0' }, '/sub dir/a#b.txt')).toBe('http://h:1/mirror/a/b/resolve/v1.0/sub%20dir/a%23b.txt');
    expect(hubUrl({ repo: 'a/b', revision: 'refs/pr/1' }, 'x')).toBe(`${DEFAULT_HUB_BASE}/a/b/resolve/refs%2Fpr%2F1/x`);
  });

  it('accepts owner/name ids and rejects other strings', () => {
    for (const ok of ['HuggingFaceTB/SmolLM2-135M', 'Qwen/Qwen2.5-0.5B-Instruct', 'meta-llama/Llama-3.2-1B', 'a/b', 'user_1/model.v2']) expect(isRepoId(ok), ok).toBe(true);
    for (const bad of ['', 'gpt2', 'a/b/c', '/a/b', 'a/', './models/x', '../x/y', 'a/b--c', 'a/b..c', 'a/-b', 'a/b.', 'a/b.git', 'C:\\models\\x', 'https://huggingface.co/a/b', 'a b/c'])
      expect(isRepoId(bad), bad).toBe(false);
  });
});

describe('hubFiles', () => {
  it('downloads a file with progress, and only once per instance', async () => {
    const o = opts();
    const files = hubFiles(o);
    expect(files.name).toBe(REPO);
    const before = requests.length;
    const src = (await files.get('big.bin'))!;
    expect(src.size).toBe(BIG.byteLength);
    expect(sameBytes(await src.read(0, BIG.byteLength), BIG)).toBe(true);
    expect(await files.get('big.bin')).toBe(src);
    expect(requests.length - before).toBe(1);
    expect(o.progress[0]).toMatchObject({ file: 'big.bin', loaded: 0, total: BIG.byteLength, cached: false, done: false });
    expect(o.progress.at(-1)).toMatchObject({ file: 'big.bin', loaded: BIG.byteLength, total: BIG.byteLength, cached: false, done: true });
    expect(o.progress.length).toBeGreaterThan(2);
    for (let i = 1; i < o.progress.length; i++) expect(o.progress[i]!.loaded).toBeGreaterThanOrEqual(o.progress[i - 1]!.loaded);
  });

  it('reports total null without content-length, and follows revisions and nested paths', async () => {
    const o = opts();
    const src = (await hubFiles(o).get('chunked.bin'))!;
    expect(sameBytes(await src.read(0, 3000), BIG.subarray(0, 3000))).toBe(true);
    expect(o.progress.every((p) => p.total === null)).toBe(true);
    expect(o.progress.at(-1)!.loaded).toBe(3000);
    expect(await readText((await hubFiles(opts()).get('sub dir/a#b.txt'))!)).toBe('nested');
    const v2 = hubFiles(opts({ revision: 'v2' }));
    expect(v2.name).toBe(`${REPO}@v2`);
    expect(await readText((await v2.get('config.json'))!)).toBe('{"v":2}');
  });

  it('gives null for a missing file and a clear error for a server error or a missing repo', async () => {
    const files = hubFiles(opts());
    expect(await files.get('tokenizer.model')).toBeNull();
    const e = await failure(files.get('boom.json'));
    expect(e.message).toContain(`${base}${REPO}/resolve/main/boom.json`);
    expect(e.message).toContain('HTTP 500');
    expect(e.message).toContain('check the repo id');
    const e2 = await failure(hubFiles(opts({ repo: 'nobody/nothing' })).get('config.json'));
    expect(e2.message).toContain('RepositoryNotFound');
  });

  it('reports a download that breaks off, and retries it on the next get', async () => {
    const files = hubFiles(opts());
    const before = requests.length;
    const e = await failure(files.get('cut.bin'));
    expect(e.message).toContain('cut.bin');
    expect(e.message).toMatch(/broke off|ended after/);
    await failure(files.get('cut.bin'));
    expect(requests.length - before).toBe(2);
  });

  it('reports an unreachable hub as a FormatError naming the URL', async () => {
    const e = await failure(hubFiles({ repo: REPO, hubBase: 'http://127.0.0.1:1' }).get('config.json'));
    expect(e.message).toContain('http://127.0.0.1:1/');
    expect(e.message).toContain('network');
  });

  it('uses an injected fetch', async () => {
    let calls = 0;
    const f: typeof fetch = async (input) => {
      calls++;
      expect(String(input)).toBe(`${DEFAULT_HUB_BASE}/${REPO}/resolve/main/config.json`);
      return new Response('{}', { status: 200 });
    };
    expect(await readText((await hubFiles({ repo: REPO, fetch: f }).get('config.json'))!)).toBe('{}');
    expect(calls).toBe(1);
  });

  it('opens a sharded checkpoint over HTTP', async () => {
    const ckpt = await openCheckpoint(hubFiles(opts()));
    expect(ckpt.files).toEqual([SHARD1, SHARD2]);
    expect([...toFloat32('F32', await readTensorBytes(ckpt.tensors.get('b')!))]).toEqual([3]);
  });
});

async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => join(d.parentPath ?? d.path, d.name));
  } catch {
    return [];
  }
}

describe('cachedHubFiles', () => {
  it('downloads into the cache once; a second instance makes no request', async () => {
    const cacheDir = await tempDir();
    const o = { ...opts(), cacheDir };
    const before = requests.length;
    const src = (await cachedHubFiles(o).get('big.bin'))!;
    const cached = join(cacheDir, 'tiny-org--tiny-llama', 'main', 'big.bin');
    expect(src.name).toBe(cached);
    expect((await stat(cached)).size).toBe(BIG.byteLength);
    expect(sameBytes(await src.read(1000, 5000), BIG.subarray(1000, 6000))).toBe(true);
    expect(o.progress.at(-1)).toMatchObject({ file: 'big.bin', loaded: BIG.byteLength, total: BIG.byteLength, done: true });
    expect(requests.length - before).toBe(1);

    const again = cachedHubFiles({ repo: REPO, hubBase: base, cacheDir });
    expect(sameBytes(await (await again.get('big.bin'))!.read(0, BIG.byteLength), BIG)).toBe(true);
    expect(requests.length - before).toBe(1);

    const ckpt = await openCheckpoint(cachedHubFiles({ repo: REPO, hubBase: base, cacheDir }));
    expect([...toFloat32('F32', await readTensorBytes(ckpt.tensors.get('a')!))]).toEqual([1, 2]);
    expect(await listFiles(join(cacheDir, 'tiny-org--tiny-llama', 'main'))).toHaveLength(4);
  });

  it('gives null on 404 and caches nothing; errors leave no partial file', async () => {
    const cacheDir = await tempDir();
    const files = cachedHubFiles({ repo: REPO, hubBase: base, cacheDir });
    expect(await files.get('missing.json')).toBeNull();
    const e = await failure(files.get('boom.json'));
    expect(e.message).toContain('HTTP 500');
    await failure(files.get('cut.bin'));
    expect(await listFiles(cacheDir)).toEqual([]);
  });

  it('keeps revisions apart and refuses paths that leave the cache', async () => {
    const cacheDir = await tempDir();
    const files = cachedHubFiles({ repo: REPO, hubBase: base, cacheDir, revision: 'v2' });
    expect(await readText((await files.get('config.json'))!)).toBe('{"v":2}');
    expect((await stat(join(cacheDir, 'tiny-org--tiny-llama', 'v2', 'config.json'))).isFile()).toBe(true);
    await expect(files.get('../../escape.json')).rejects.toThrow(FormatError);
  });

  it('defaultCacheDir honours TABTUNE_CACHE', () => {
    const saved = process.env.TABTUNE_CACHE;
    try {
      process.env.TABTUNE_CACHE = '/tmp/tabtune-cache-test';
      expect(defaultCacheDir()).toBe('/tmp/tabtune-cache-test');
      delete process.env.TABTUNE_CACHE;
      expect(defaultCacheDir()).toMatch(/[/\\]\.cache[/\\]tabtune$/);
    } finally {
      if (saved === undefined) delete process.env.TABTUNE_CACHE;
      else process.env.TABTUNE_CACHE = saved;
    }
  });
});
