// GGUF models through the worker's handler, with the real engine (Dawn) and a hub stand-in on
// 127.0.0.1: a dropped .gguf (alone, or with a tokenizer.json), and a hub repo of GGUF files listed
// with their quant types, one picked, planned from its header alone (HTTP ranges), then downloaded
// with progress and loaded; the model facts name the weight types. Mistakes are one clear message.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/formats/gguf.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import type { FinalReply, HubFileList, ModelInfoResult, PlanModelResult, ProgressReply, Request, TrainSettings } from '../../src/protocol/messages.ts';
import { QUICK_PRESET } from '../../src/state/presets.ts';
import { createHandler, type Handler } from '../../src/worker/handler.ts';
import { tempDir } from '../helpers/cli.ts';
import { ggufOf, type GgufRepo, writeGgufRepo, withTensorType } from '../helpers/gguf-repo.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

const REPO = 'acme/tiny-GGUF';
const ODD = 'acme/odd-GGUF';
const PLAIN = 'acme/plain-server';
const Q8 = 'tiny-Q8_0.gguf';
const ROWS = [{ inputIds: [5, 17, 200, 33, 9, 120, 64, 3] }, { inputIds: [40, 41, 42, 43, 44, 45, 46] }];
const SETTINGS: TrainSettings = { ...QUICK_PRESET, batchSize: 2, seqLen: 64, targets: ['q_proj', 'v_proj'] };

let repo: GgufRepo;
let hub: HubServer;
let h: Handler;
let id = 1;

beforeAll(async () => {
  repo = await writeGgufRepo(await tempDir(), { [Q8]: 'Q8_0', 'f16/tiny-F16.gguf': 'F16', 'tiny-Q8_0-00001-of-00002.gguf': 'Q8_0' });
  const odd = await tempDir();
  await writeFile(join(odd, 'tiny-IQ2_XS.gguf'), withTensorType(repo.ggufs.get(Q8)!, 'blk.1.ffn_down.weight', 17));
  hub = await startHubServer({ [REPO]: { dir: repo.dir }, [ODD]: { dir: odd }, [PLAIN]: { dir: repo.dir, noRanges: true } });
  h = createHandler({ openGpu: (opts) => createNodeGpu(opts) });
});
afterAll(async () => {
  await h?.dispose();
  await hub?.close();
});

/** Any request, without its id (a distributive Omit, so each kind keeps its own fields). */
type Body = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

async function ask(req: Body, progress?: ProgressReply[]): Promise<FinalReply> {
  return h.handle({ ...req, id: id++ } as Request, progress ? (p) => progress.push(p) : undefined);
}

function ok<T>(reply: FinalReply): T {
  if (reply.type === 'error') throw new Error(`${reply.name}: ${reply.message}`);
  return reply.value as T;
}

function failure(reply: FinalReply): { name: string; message: string } {
  if (reply.type !== 'error') throw new Error(`expected an error, got ${JSON.stringify(reply.value)}`);
  return reply;
}

const loss = async () => ok<{ loss: number }>(await ask({ kind: 'evaluate', rows: ROWS })).loss;
const file = (bytes: Uint8Array, name: string) => new File([bytes.slice()], name);

describe('a dropped GGUF', () => {
  let droppedLoss = 0;

  it('loads with a tokenizer.json beside it, and names its weight types', async () => {
    const info = ok<ModelInfoResult>(await ask({ kind: 'loadModel', source: { kind: 'files', files: [file(repo.ggufs.get(Q8)!, Q8), file(repo.hf.get('tokenizer.json')!, 'tokenizer.json')] } }));
    expect(info).toMatchObject({ name: Q8, gguf: true, architecture: 'LlamaForCausalLM', layers: 2, weightDtype: 'Q8_0', weightDtypes: { Q8_0: 16 } });
    droppedLoss = await loss();
    expect(Number.isFinite(droppedLoss)).toBe(true);
    expect(structuredClone(info)).toEqual(info);
  });

  it('loads alone, its tokenizer made from the metadata, computing the same', async () => {
    const alone = await ggufOf(repo.hf, 'Q8_0', true);
    const info = ok<ModelInfoResult>(await ask({ kind: 'loadModel', source: { kind: 'files', files: [file(alone, 'alone-Q8_0.gguf')] } }));
    expect(info.name).toBe('alone-Q8_0.gguf');
    expect(await loss()).toBe(droppedLoss);
    const gen = ok<{ text: string }>(await ask({ kind: 'generate', prompt: 'In the beginning', maxNewTokens: 4 }));
    expect(typeof gen.text).toBe('string');
  });

  it('two GGUFs are refused by name, and the model loaded before stays', async () => {
    const e = failure(await ask({ kind: 'loadModel', source: { kind: 'files', files: [file(repo.ggufs.get(Q8)!, 'a.gguf'), file(repo.ggufs.get(Q8)!, 'b.gguf')] } }));
    expect(e.message).toBe('dropped files: hold 2 GGUF models (a.gguf, b.gguf); drop one .gguf file, with its tokenizer.json if it has one');
    expect(await loss()).toBe(droppedLoss);
  });
});

describe('training on a GGUF base in the app', () => {
  it('trains, and downloads the merged model as one GGUF whose untouched tensors are the base\'s bytes', async () => {
    ok(await ask({ kind: 'loadModel', source: { kind: 'files', files: [file(repo.ggufs.get(Q8)!, Q8), file(repo.hf.get('tokenizer.json')!, 'tokenizer.json')] } }));
    const dataset = { kind: 'file' as const, file: new File([JSON.stringify({ text: 'In the beginning was the word, and the word was with the model.' }) + '\n'], 'tiny.jsonl') };
    const t = ok<{ status: string }>(await ask({ kind: 'train', dataset, settings: { ...SETTINGS, steps: 2, batchSize: 1, evalEvery: 0 } }));
    expect(t.status).toBe('finished');
    const progress: ProgressReply[] = [];
    const merged = ok<{ name: string; files: string[]; zip?: Blob }>(await ask({ kind: 'exportMerged', format: 'gguf', target: { kind: 'zip' } }, progress));
    expect(merged.name).toMatch(/merged-r\d+.*\.gguf$/);
    expect(progress.at(-1)?.message).toBe('merging: 100%');
    const bytes = new Uint8Array(await merged.zip!.arrayBuffer());
    const out = readGguf(bytes, merged.name, 'compute');
    const base = readGguf(repo.ggufs.get(Q8)!, Q8, 'compute');
    expect(out.tensors.map((x) => [x.name, x.type])).toEqual(base.tensors.map((x) => [x.name, x.type]));
    for (const [i, x] of out.tensors.entries()) {
      const adapted = /attn_[qv]\.weight$/.test(x.name);
      expect(Buffer.from(x.data).equals(Buffer.from(base.tensors[i]!.data)), x.name).toBe(!adapted);
    }
  });
});

describe('a hub repo of GGUF files', () => {
  it('lists them with quant types, plans the picked one from its header, then downloads and loads it', async () => {
    const list = ok<HubFileList>(await ask({ kind: 'listHubFiles', repo: REPO, hubBase: hub.base }));
    expect(list.hasSafetensors).toBe(false);
    expect(list.ggufs.map((g) => [g.path, g.quant, g.unusable === null])).toEqual([
      ['f16/tiny-F16.gguf', 'F16', true],
      ['tiny-Q8_0-00001-of-00002.gguf', 'Q8_0', false],
      [Q8, 'Q8_0', true],
    ]);
    expect(hub.requests).toEqual([]);
    const picked = list.ggufs.find((g) => g.quant === 'Q8_0' && !g.unusable)!;
    const source = { kind: 'hub' as const, repo: REPO, hubBase: hub.base, gguf: picked.path };

    const budget = 2 ** 30;
    const planned = ok<PlanModelResult>(await ask({ kind: 'planModel', source, settings: SETTINGS, budget }));
    expect(planned).toMatchObject({ from: 'gguf header', architecture: 'LlamaForCausalLM', layers: 2, storedTypes: { Q8_0: 16 } });
    expect(planned.plan).toMatchObject({ fits: true, budget, advice: null, weightDtypes: { Q8_0: 16 } });
    expect(planned.plan.total).toBe(planned.plan.weights + planned.plan.trainable + planned.plan.activations);
    expect(planned.bytesRead).toBeLessThan(picked.size);
    expect(hub.requests.every((r) => r.range !== null)).toBe(true);
    // Other settings plan again from what was read: no request.
    const before = hub.requests.length;
    const f16 = ok<PlanModelResult>(await ask({ kind: 'planModel', source, precision: 'f16', settings: { ...SETTINGS, rank: 16 }, budget: 1024 }));
    expect(f16.plan.weightDtypes).toEqual({ f16: 16 });
    expect(f16.plan.weights).toBeGreaterThan(planned.plan.weights);
    expect(f16.plan.fits).toBe(false);
    expect(f16.plan.advice).toMatch(/^does not fit: .* needed, 1 KiB available; the largest term is/);
    expect(hub.requests.length).toBe(before);

    const progress: ProgressReply[] = [];
    const info = ok<ModelInfoResult>(await ask({ kind: 'loadModel', source }, progress));
    expect(info).toMatchObject({ name: `${REPO}/${Q8}`, gguf: true, weightDtypes: { Q8_0: 16 }, weightBytes: planned.plan.weights });
    const last = progress.filter((p) => p.download?.file === Q8).at(-1)!.download!;
    expect(last).toMatchObject({ loaded: picked.size, total: picked.size, done: true });
    const whole = hub.requests.filter((r) => r.file === Q8 && r.range === null);
    expect(whole).toHaveLength(1);
    // The tokenizer came from the repo's tokenizer.json: the model computes what the dropped file does.
    expect(hub.count(REPO, 'tokenizer.json')).toBe(1);
    const hubLoss = await loss();
    ok(await ask({ kind: 'loadModel', source: { kind: 'files', files: [file(repo.ggufs.get(Q8)!, Q8), file(repo.hf.get('tokenizer.json')!, 'tokenizer.json')] } }));
    expect(await loss()).toBe(hubLoss);

    // A GGUF in a subfolder finds the repo's tokenizer.json at the root; converted on load as asked.
    const sub = ok<ModelInfoResult>(await ask({ kind: 'loadModel', source: { ...source, gguf: 'f16/tiny-F16.gguf' }, precision: 'q8_0' }));
    expect(sub).toMatchObject({ name: `${REPO}/f16/tiny-F16.gguf`, weightDtypes: { Q8_0: 16 } });
  });

  it('plans a Hugging Face repo from its config.json alone', async () => {
    const hfDir = await tempDir();
    for (const [name, bytes] of repo.hf) await writeFile(join(hfDir, name), bytes);
    const local = await startHubServer({ 'acme/tiny': { dir: hfDir } });
    try {
      const list = ok<HubFileList>(await ask({ kind: 'listHubFiles', repo: 'acme/tiny', hubBase: local.base }));
      expect(list).toMatchObject({ hasSafetensors: true, ggufs: [] });
      const p = ok<PlanModelResult>(await ask({ kind: 'planModel', source: { kind: 'hub', repo: 'acme/tiny', hubBase: local.base }, settings: SETTINGS, budget: null }));
      expect(p).toMatchObject({ from: 'config.json', storedTypes: null });
      expect(p.plan.fits).toBeNull();
      expect(local.requests.map((r) => r.file)).toEqual(['config.json']);
    } finally {
      await local.close();
    }
  });

  it('says clearly what is wrong: an unsupported type, a server without ranges, a missing repo', async () => {
    const odd = failure(await ask({ kind: 'planModel', source: { kind: 'hub', repo: ODD, hubBase: hub.base, gguf: 'tiny-IQ2_XS.gguf' }, settings: SETTINGS, budget: null }));
    expect(odd.name).toBe('TensorError');
    expect(odd.message).toMatch(/^acme\/odd-GGUF\/tiny-IQ2_XS\.gguf: tensor "blk\.1\.ffn_down\.weight" has ggml type 17 \(IQ2_XS\)/);
    const plain = failure(await ask({ kind: 'planModel', source: { kind: 'hub', repo: PLAIN, hubBase: hub.base, gguf: Q8 }, settings: SETTINGS, budget: null }));
    expect(plain.name).toBe('RangeNotSupportedError');
    expect(plain.message).toMatch(/^acme\/plain-server\/tiny-Q8_0\.gguf: the server at .* ignored the HTTP Range request/);
    const missing = failure(await ask({ kind: 'listHubFiles', repo: 'acme/missing', hubBase: hub.base }));
    expect(missing.message).toMatch(/^acme\/missing: its file list could not be fetched: HTTP 404 \(RepositoryNotFound\)/);
    const gone = failure(await ask({ kind: 'loadModel', source: { kind: 'hub', repo: REPO, hubBase: hub.base, gguf: 'nope-Q4_K_M.gguf' } }));
    expect(gone.message).toBe("acme/tiny-GGUF/nope-Q4_K_M.gguf: is not in the repo (HTTP 404); pick a file from the repo's list");
  });
});
