// A stand-in for the Hugging Face Hub on 127.0.0.1 (tests never touch the network): serves model
// folders as /{owner}/{name}/resolve/{revision}/{file}, with the hub's 404 error codes and the CORS
// headers a browser page on another port needs. Used by the Node tests and the Playwright specs.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface HubRepo {
  /** The folder served as the repo's files (any revision). */
  dir: string;
  /** Files sent slowly: `chunk` bytes every `delayMs`, so a test can watch progress or cancel. */
  slow?: { files: string[]; chunk: number; delayMs: number };
}

export interface HubRequest {
  repo: string;
  file: string;
  /** The client went away before the whole file was sent. */
  aborted: boolean;
  /** Bytes written before the end (or the abort). */
  sent: number;
}

export interface HubServer {
  /** http://127.0.0.1:PORT, no trailing slash. */
  base: string;
  requests: HubRequest[];
  /** Requests for one file of one repo. */
  count(repo: string, file: string): number;
  close(): Promise<void>;
}

const CORS = {
  'access-control-allow-origin': '*',
  // Content-Length is safelisted by now, but older browsers hide it, and the error code never is.
  'access-control-expose-headers': 'content-length, x-error-code',
  // No HTTP caching: a second load that makes no request must owe that to the app's own cache.
  'cache-control': 'no-store',
};

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

export async function startHubServer(repos: Record<string, HubRepo>): Promise<HubServer> {
  const requests: HubRequest[] = [];

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'OPTIONS') return void res.writeHead(204, { ...CORS, 'access-control-allow-headers': '*' }).end();
    const m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(400, CORS).end('bad path');
    const [owner, name, , file] = m.slice(1).map(decodeURIComponent) as [string, string, string, string];
    const repo = repos[`${owner}/${name}`];
    const record: HubRequest = { repo: `${owner}/${name}`, file, aborted: false, sent: 0 };
    requests.push(record);
    if (!repo) return void res.writeHead(404, { ...CORS, 'x-error-code': 'RepositoryNotFound' }).end('Repository not found');
    let data: Buffer;
    try {
      if (file.split('/').includes('..')) throw new Error('outside the repo');
      data = await readFile(join(repo.dir, file));
    } catch {
      return void res.writeHead(404, { ...CORS, 'x-error-code': 'EntryNotFound' }).end('Entry not found');
    }
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });
    res.writeHead(200, { ...CORS, 'content-type': 'application/octet-stream', 'content-length': String(data.byteLength) });
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
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    count: (repo, file) => requests.filter((r) => r.repo === repo && r.file === file).length,
    close: async () => {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}
