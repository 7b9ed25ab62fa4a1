// A stand-in for the Hugging Face Hub on 127.0.0.1 (tests never touch the network): serves model
// folders as /{owner}/{name}/resolve/{revision}/{file} (with HTTP Range requests, as the hub's CDN
// answers them), lists them as /api/models/{owner}/{name}/tree/{revision}?recursive=true, with the
// hub's 404 error codes and the CORS headers a browser page on another port needs. Used by the Node
// tests and the Playwright specs.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface HubRepo {
  /** The folder served as the repo's files (any revision). */
  dir: string;
  /** Files sent slowly: `chunk` bytes every `delayMs`, so a test can watch progress or cancel. */
  slow?: { files: string[]; chunk: number; delayMs: number };
  /** Answer Range requests with the whole file (HTTP 200), as some servers do. */
  noRanges?: boolean;
  /** List the tree in pages of this many entries, linked by `Link: <...>; rel="next"` as the hub does. */
  treePage?: number;
}

export interface HubRequest {
  repo: string;
  file: string;
  /** The client went away before the whole file was sent. */
  aborted: boolean;
  /** Bytes written before the end (or the abort). */
  sent: number;
  /** The Range header asked for, or null for the whole file. */
  range: string | null;
  /** The answer's status (206 for a part). */
  status: number;
}

/** A tree listing asked for (file names are the repo's paths; these are not file requests). */
export interface TreeRequest {
  repo: string;
  revision: string;
  cursor: string | null;
}

export interface HubServer {
  /** http://127.0.0.1:PORT, no trailing slash. */
  base: string;
  requests: HubRequest[];
  trees: TreeRequest[];
  /** Requests for one file of one repo. */
  count(repo: string, file: string): number;
  close(): Promise<void>;
}

const CORS = {
  'access-control-allow-origin': '*',
  // Content-Length is safelisted by now, but older browsers hide it, and the error code never is.
  'access-control-expose-headers': 'content-length, content-range, accept-ranges, link, x-error-code',
  // No HTTP caching: a second load that makes no request must owe that to the app's own cache.
  'cache-control': 'no-store',
};

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

export async function startHubServer(repos: Record<string, HubRepo>): Promise<HubServer> {
  const requests: HubRequest[] = [];

  const trees: TreeRequest[] = [];
  let base = '';

  async function serveTree(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray): Promise<void> {
    const [owner, name, revision] = m.slice(1, 4).map(decodeURIComponent) as [string, string, string];
    const url = new URL(req.url ?? '', base);
    const cursor = url.searchParams.get('cursor');
    trees.push({ repo: `${owner}/${name}`, revision, cursor });
    const repo = repos[`${owner}/${name}`];
    if (!repo) return void res.writeHead(404, { ...CORS, 'x-error-code': 'RepositoryNotFound' }).end('{"error":"Repository not found"}');
    const all = await treeOf(repo.dir);
    const start = Number(cursor ?? 0);
    const page = repo.treePage ?? all.length;
    const headers: Record<string, string> = { ...CORS, 'content-type': 'application/json' };
    if (start + page < all.length) {
      url.searchParams.set('cursor', String(start + page));
      headers.link = `<${url.href}>; rel="next"`;
    }
    res.writeHead(200, headers).end(JSON.stringify(all.slice(start, start + page)));
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'OPTIONS') return void res.writeHead(204, { ...CORS, 'access-control-allow-headers': '*' }).end();
    const tree = /^\/api\/models\/([^/]+)\/([^/]+)\/tree\/([^/?]+)(?:\?.*)?$/.exec(req.url ?? '');
    if (tree) return serveTree(req, res, tree);
    const m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(400, CORS).end('bad path');
    const [owner, name, , file] = m.slice(1).map(decodeURIComponent) as [string, string, string, string];
    const repo = repos[`${owner}/${name}`];
    const range = req.headers.range ?? null;
    const record: HubRequest = { repo: `${owner}/${name}`, file, aborted: false, sent: 0, range, status: 0 };
    requests.push(record);
    if (!repo) return void res.writeHead((record.status = 404), { ...CORS, 'x-error-code': 'RepositoryNotFound' }).end('Repository not found');
    let data: Buffer;
    try {
      if (file.split('/').includes('..')) throw new Error('outside the repo');
      data = await readFile(join(repo.dir, file));
    } catch {
      return void res.writeHead((record.status = 404), { ...CORS, 'x-error-code': 'EntryNotFound' }).end('Entry not found');
    }
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });
    const asked = range && !repo.noRanges ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (asked) {
      const start = Number(asked[1]);
      const end = Math.min(asked[2] ? Number(asked[2]) : data.byteLength - 1, data.byteLength - 1);
      if (start >= data.byteLength || end < start) {
        return void res.writeHead((record.status = 416), { ...CORS, 'content-range': `bytes */${data.byteLength}` }).end();
      }
      const total = data.byteLength;
      data = data.subarray(start, end + 1);
      res.writeHead((record.status = 206), {
        ...CORS, 'content-type': 'application/octet-stream', 'content-length': String(data.byteLength),
        'content-range': `bytes ${start}-${end}/${total}`, 'accept-ranges': 'bytes',
      });
    } else {
      res.writeHead((record.status = 200), { ...CORS, 'content-type': 'application/octet-stream', 'content-length': String(data.byteLength) });
    }
    const slow = repo.slow?.files.includes(file) ? repo.slow : null;
    const chunk = slow?.chunk ?? 65536;
    for (let i = 0; i < data.byteLength; i += chunk) {
      if (res.destroyed) return;
      const part = data.subarray(i, i + chunk);
      res.write(part);
      record.sent += part.byteLength;
      if (slow) await sleep(slow.delayMs);
    }
    res.end();
  }

  const server = createServer((req, res) => {
    serve(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    requests,
    trees,
    count: (repo, file) => requests.filter((r) => r.repo === repo && r.file === file).length,
    close: async () => {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}

/** The hub's tree entries for every file and folder under `dir`; big files are stored in LFS. */
async function treeOf(dir: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = relative(dir, join(e.parentPath, e.name)).split('\\').join('/');
    if (e.isDirectory()) {
      out.push({ type: 'directory', oid: '0', size: 0, path });
    } else if (e.isFile()) {
      const size = (await stat(join(dir, path))).size;
      const lfs = /\.(gguf|safetensors)$/.test(path) ? { lfs: { oid: '0'.repeat(64), size, pointerSize: 134 } } : {};
      // An LFS file's own size field is its pointer's on some hub versions: clients must read lfs.size.
      out.push({ type: 'file', oid: '0'.repeat(40), size: 'lfs' in lfs ? 134 : size, path, ...lfs });
    }
  }
  return out.sort((a, b) => ((a as { path: string }).path < (b as { path: string }).path ? -1 : 1));
}
