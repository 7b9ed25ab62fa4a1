// The CLI on a GGUF in a hub repo (a local stand-in): `plan` reads only the header, by HTTP range;
// `eval` and `generate` download the file once into the disk cache and compute what the same file
// on disk computes; a quant type picks the file from the repo's list; and every mistake (no file
// with that type, several, an unsupported tensor type, a server without ranges) is one line naming
// the repo and file.

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runCli, tempDir } from '../helpers/cli.ts';
import { type GgufRepo, writeGgufRepo, withTensorType } from '../helpers/gguf-repo.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

const REPO = 'acme/tiny-GGUF';
const BAD = 'acme/odd-GGUF';
const PLAIN = 'acme/plain-server';
const Q8 = 'tiny-Q8_0.gguf';
const ROWS = [{ input_ids: [5, 17, 200, 33, 9, 120, 64, 3] }, { input_ids: [40, 41, 42, 43, 44, 45, 46] }];

let repo: GgufRepo;
let hub: HubServer;
let data: string;
let env: Record<string, string>;

beforeAll(async () => {
  repo = await writeGgufRepo(await tempDir(), { [Q8]: 'Q8_0', 'tiny-F16.gguf': 'F16' });
  const bad = await tempDir();
  // IQ2_XS (ggml type 17): a real llama.cpp type that tabtune does not compute with.
  await writeFile(join(bad, 'tiny-IQ2_XS.gguf'), withTensorType(repo.ggufs.get('tiny-F16.gguf')!, 'blk.0.attn_q.weight', 17));
  hub = await startHubServer({ [REPO]: { dir: repo.dir }, [BAD]: { dir: bad }, [PLAIN]: { dir: repo.dir, noRanges: true } });
  data = join(await tempDir(), 'rows.jsonl');
  await writeFile(data, ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  // One cache for the file: the matmul layouts are timed once; each test checks what it downloads.
  env = { TABTUNE_CACHE: await tempDir('tabtune-cache-') };
});
afterAll(() => hub?.close());

const cli = (args: string[]) => runCli([...args, '--hub-base', hub.base], env);
const gguf = (r: string, file: string) => hub.requests.filter((q) => q.repo === r && q.file === file);

describe('tabtune plan on a hub GGUF', () => {
  it('reads only the header: ranged requests, fewer bytes than the file, nothing cached', async () => {
    const r = await cli(['plan', '--model', `${REPO}/${Q8}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = lastJson(r);
    expect(plan.weight_dtypes).toEqual({ Q8_0: 16 });
    const reqs = gguf(REPO, Q8);
    expect(reqs.length).toBeGreaterThan(0);
    expect(reqs.every((q) => q.range?.startsWith('bytes=0-') && q.status === 206)).toBe(true);
    const sent = reqs.reduce((n, q) => n + q.sent, 0);
    expect(sent).toBeLessThan(repo.ggufs.get(Q8)!.byteLength);
    expect(hub.trees).toEqual([]);
    expect(existsSync(join(env.TABTUNE_CACHE!, 'acme--tiny-GGUF', 'main', Q8))).toBe(false);
    // The same plan as for the file on disk.
    const local = lastJson(await runCli(['plan', '--model', join(repo.dir, Q8), '--json']));
    expect(plan.total).toBe(local.total);
    expect(plan.weights).toBe(local.weights);
  });

  it('owner/name:TYPE picks the file from the repo list', async () => {
    const r = await cli(['plan', '--model', `${REPO}:f16`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r).weight_dtypes).toEqual({ f16: 16 });
    expect(hub.trees.map((t) => t.repo)).toEqual([REPO]);
    expect(gguf(REPO, 'tiny-F16.gguf').every((q) => q.range !== null)).toBe(true);
  });

  it('no file or several with the type: one line listing the GGUF files', async () => {
    const none = await cli(['plan', '--model', `${REPO}:Q4_K_M`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^tabtune plan: acme\/tiny-GGUF: has no GGUF file whose name contains "Q4_K_M"; its GGUF files: tiny-F16\.gguf \(F16, [\d.]+ MiB\); tiny-Q8_0\.gguf \(Q8_0, [\d.]+ MiB\)\n$/);
    const two = await cli(['plan', '--model', `${REPO}:tiny`]);
    expect(two.code).toBe(1);
    expect(two.stderr).toMatch(/has 2 GGUF files whose names contain "tiny": tiny-F16\.gguf .*; name the one to use, e\.g\. acme\/tiny-GGUF\/tiny-F16\.gguf\n$/);
  });

  it('an unsupported tensor type names the repo, the file and the tensor', async () => {
    const r = await cli(['plan', '--model', `${BAD}/tiny-IQ2_XS.gguf`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tabtune plan: acme\/odd-GGUF\/tiny-IQ2_XS\.gguf: tensor "blk\.0\.attn_q\.weight" has ggml type 17 \(IQ2_XS\) at byte \d+, which tabtune does not compute with/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a server that ignores ranges: one line saying so, naming the repo and file', async () => {
    const r = await cli(['plan', '--model', `${PLAIN}/${Q8}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tabtune plan: acme\/plain-server\/tiny-Q8_0\.gguf: the server at \S+ ignored the HTTP Range request/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('eval and generate on a hub GGUF', () => {
  it('download it once into the cache and compute what the file on disk computes', async () => {
    const r = await cli(['eval', '--model', `${REPO}/${Q8}`, '--data', data, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const whole = gguf(REPO, Q8).filter((q) => q.range === null);
    expect(whole).toHaveLength(1);
    expect(whole[0]!.sent).toBe(repo.ggufs.get(Q8)!.byteLength);
    expect(existsSync(join(env.TABTUNE_CACHE!, 'acme--tiny-GGUF', 'main', Q8))).toBe(true);
    expect(existsSync(join(env.TABTUNE_CACHE!, 'acme--tiny-GGUF', 'main', 'tokenizer.json'))).toBe(true);
    const local = lastJson(await runCli(['eval', '--model', join(repo.dir, Q8), '--data', data, '--json'], env));
    expect(lastJson(r)).toEqual(local);

    const before = hub.requests.length;
    const g = await cli(['generate', '--model', `${REPO}/${Q8}`, '--prompt', 'In the beginning', '--max-new-tokens', '5']);
    expect(g.code, g.stderr).toBe(0);
    expect(hub.requests.slice(before).filter((q) => q.file === Q8)).toEqual([]);
    const l = await runCli(['generate', '--model', join(repo.dir, Q8), '--prompt', 'In the beginning', '--max-new-tokens', '5'], env);
    expect(g.stdout).toBe(l.stdout);
  });
});
