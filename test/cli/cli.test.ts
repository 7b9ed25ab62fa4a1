// The CLI as a user runs it: eval and generate on test-model folders, with a PEFT adapter, from a
// local hub server, and every kind of bad input giving one clear line instead of a stack trace.

import { createServer, type Server } from 'node:http';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { linearName, linearShape, LINEAR_MODULES } from '../../src/model/params.ts';
import { loadReferenceWeights, referenceGreedy, referenceLoss, type ReferenceLora } from '../../src/model/reference.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import { bytesSource, memoryFiles } from '../../src/formats/byte-source.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { randomArray } from '../helpers/close.ts';
import { lastJson, runCli, tempDir, writeFolder } from '../helpers/cli.ts';

const ROWS = [
  { input_ids: [5, 17, 200, 33, 9, 120, 64, 3] },
  { input_ids: [40, 41, 42, 43, 44, 45], labels: [-100, -100, 42, 43, 44, 45] },
  { input_ids: [1, 300, 2, 250, 251, 252, 7, 8, 9, 10, 11] },
];
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

let root: string;
let modelDir: string;
let dataFile: string;
const files = makeTestModel({ architecture: 'llama', seed: 11, dtype: 'F32' });
const cfg = parseModelConfig(new TextDecoder().decode(files.get('config.json')!));
const ref = loadReferenceWeights(files);
const refRows = ROWS.map((r) => ({ inputIds: r.input_ids, labels: r.labels }));

beforeAll(async () => {
  root = await tempDir();
  modelDir = await writeFolder(join(root, 'model'), files);
  dataFile = join(root, 'data.jsonl');
  await writeFile(dataFile, jsonl(ROWS));
});

describe('tabtune eval', () => {
  it('prints the mean loss over target tokens as the last JSON line, equal to the reference', async () => {
    const r = await runCli(['eval', '--model', modelDir, '--data', dataFile, '--json', '--precision', 'f32']);
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson(r);
    const want = referenceLoss(cfg, ref, refRows);
    expect(out.tokens).toBe(want.tokens);
    expect(Math.abs((out.loss as number) - want.loss)).toBeLessThan(1e-4 * want.loss);
  });

  it('gives the same loss for every batch size, and cuts rows at --seq-len', async () => {
    const a = lastJson(await runCli(['eval', '--model', modelDir, '--data', dataFile, '--json', '--batch-size', '1']));
    const b = lastJson(await runCli(['eval', '--model', modelDir, '--data', dataFile, '--json', '--batch-size', '3']));
    expect(b.tokens).toBe(a.tokens);
    expect(b.loss as number).toBeCloseTo(a.loss as number, 5);
    const cut = lastJson(await runCli(['eval', '--model', modelDir, '--data', dataFile, '--json', '--seq-len', '4']));
    const want = referenceLoss(cfg, ref, refRows.map((r) => ({ inputIds: r.inputIds.slice(0, 4), labels: r.labels?.slice(0, 4) })));
    expect(cut.tokens).toBe(want.tokens);
    expect(Math.abs((cut.loss as number) - want.loss)).toBeLessThan(2e-3 * want.loss);
  });

  it('applies a PEFT adapter unmerged with lora_alpha / r (and / sqrt(r) with rsLoRA)', async () => {
    const rank = 3;
    const lora: ReferenceLora = { scaling: 0, rank, a: new Map(), b: new Map() };
    const tensors = [];
    let seed = 500;
    for (let l = 0; l < cfg.numLayers; l++) {
      for (const m of LINEAR_MODULES) {
        const name = linearName(l, m);
        const [out, inp] = linearShape(cfg, m);
        const a = Float32Array.from(randomArray(rank * inp, seed++, 0.3));
        const b = Float32Array.from(randomArray(out * rank, seed++, 0.3));
        lora.a.set(name, Float64Array.from(a));
        lora.b.set(name, Float64Array.from(b));
        tensors.push({ name: `base_model.model.${name}.lora_A.weight`, dtype: 'F32' as const, shape: [rank, inp], data: new Uint8Array(a.buffer) });
        tensors.push({ name: `base_model.model.${name}.lora_B.weight`, dtype: 'F32' as const, shape: [out, rank], data: new Uint8Array(b.buffer) });
      }
    }
    for (const rslora of [false, true]) {
      const dir = await writeFolder(join(root, `adapter-${rslora}`), new Map<string, string | Uint8Array>([
        ['adapter_config.json', JSON.stringify({ peft_type: 'LORA', r: rank, lora_alpha: 6, use_rslora: rslora, target_modules: [...LINEAR_MODULES], task_type: 'CAUSAL_LM' })],
        ['adapter_model.safetensors', writeSafetensors(tensors)],
      ]));
      const r = await runCli(['eval', '--model', modelDir, '--adapter', dir, '--data', dataFile, '--json', '--precision', 'f32']);
      expect(r.code, r.stderr).toBe(0);
      const want = referenceLoss(cfg, ref, refRows, { ...lora, scaling: rslora ? 6 / Math.sqrt(rank) : 6 / rank });
      expect(Math.abs((lastJson(r).loss as number) - want.loss)).toBeLessThan(1e-4 * want.loss);
    }
  });
});

describe('tabtune generate', () => {
  it('greedy output equals the reference greedy tokens', async () => {
    const prompt = 'The quick brown fox';
    const tok = await loadTokenizer(memoryFiles('m', files), cfg);
    const want = referenceGreedy(cfg, ref, tok.encode(prompt), 8);
    const r = await runCli(['generate', '--model', modelDir, '--prompt', prompt, '--max-new-tokens', '8', '--json', '--precision', 'f32']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r).tokens).toEqual(want);
  });

  it('samples reproducibly with a seed', async () => {
    const args = ['generate', '--model', modelDir, '--prompt', 'Hello', '--max-new-tokens', '6', '--temperature', '1', '--top-p', '0.9', '--json'];
    const a = lastJson(await runCli([...args, '--seed', '4']));
    const b = lastJson(await runCli([...args, '--seed', '4']));
    expect(a.tokens).toEqual(b.tokens);
    expect((a.tokens as number[]).length).toBeGreaterThan(0);
  });
});

describe('a model served through the hub path', () => {
  let server: Server;
  let base: string;
  const requests: string[] = [];

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      requests.push(req.url ?? '');
      const m = /^\/acme\/tiny-llama\/resolve\/main\/([^/]+)$/.exec(req.url ?? '');
      const body = m ? files.get(decodeURIComponent(m[1]!)) : undefined;
      if (!body) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-length': body.byteLength }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('eval and generate fetch the repo once, then run from the cache', async () => {
    const cache = await tempDir('tabtune-cache-');
    const env = { TABTUNE_CACHE: cache };
    const r = await runCli(['eval', '--model', 'acme/tiny-llama', '--hub-base', base, '--data', dataFile, '--json', '--precision', 'f32'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r).loss as number).toBeCloseTo(referenceLoss(cfg, ref, refRows).loss, 3);
    expect(requests.some((u) => u.endsWith('/model.safetensors'))).toBe(true);
    const before = requests.length;
    const g = await runCli(['generate', '--model', 'acme/tiny-llama', '--prompt', 'Hi', '--max-new-tokens', '3'], { ...env, TABTUNE_HUB_BASE: base });
    expect(g.code, g.stderr).toBe(0);
    expect(requests.length).toBe(before);
  });
});

describe('bad input: one clear line naming the file and what is wrong, no stack trace', () => {
  async function variant(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
    const dir = await writeFolder(join(root, name), files);
    await edit(dir);
    return dir;
  }
  async function expectError(args: string[], ...needles: (string | RegExp)[]) {
    const r = await runCli(args);
    expect(r.code).not.toBe(0);
    for (const n of needles) expect(r.stderr).toMatch(n);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }

  it('truncated safetensors', async () => {
    const dir = await variant('truncated', async (d) => truncate(join(d, 'model.safetensors'), 5000));
    await expectError(['eval', '--model', dir, '--data', dataFile], /model\.safetensors/, /truncated/);
  });

  it('header claiming more bytes than the file holds', async () => {
    const dir = await variant('bigheader', async (d) => {
      const bytes = await readFile(join(d, 'model.safetensors'));
      new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, 10n ** 9n, true);
      await writeFile(join(d, 'model.safetensors'), bytes);
    });
    await expectError(['eval', '--model', dir, '--data', dataFile], /model\.safetensors/, /header/);
  });

  it('missing tensor and wrong shape', async () => {
    const drop = makeTestModel({ architecture: 'llama', seed: 11, dtype: 'F32', hiddenSize: 48 });
    const dir = await variant('wrongshape', async (d) => writeFile(join(d, 'model.safetensors'), drop.get('model.safetensors')!));
    await expectError(['eval', '--model', dir, '--data', dataFile], /model\.embed_tokens\.weight/, /shape/);
    const qwen = makeTestModel({ architecture: 'qwen3', seed: 11, dtype: 'F32' });
    const dir2 = await variant('missing', async (d) => {
      await writeFile(join(d, 'config.json'), qwen.get('config.json')!);
    });
    await expectError(['eval', '--model', dir2, '--data', dataFile], /q_norm\.weight|missing/);
  });

  it('unsupported tensor dtype', async () => {
    const norm = 'model.norm.weight';
    const dir = await variant('dtype', async (d) => {
      // The same checkpoint with the final norm stored as I32: tabtune must refuse it by name.
      const bytes = files.get('model.safetensors')!;
      const header = await readSafetensorsHeader(bytesSource('model.safetensors', bytes));
      const out = [...header.tensors.values()].map((t) => ({
        name: t.name,
        dtype: (t.name === norm ? 'I32' : t.dtype) as 'F32' | 'I32',
        shape: t.shape,
        data: bytes.slice(t.byteOffset, t.byteOffset + t.byteLength),
      }));
      await writeFile(join(d, 'model.safetensors'), writeSafetensors(out));
    });
    await expectError(['eval', '--model', dir, '--data', dataFile], /model\.norm\.weight/, /dtype I32/, /F32, F16, BF16/);
  });

  it('unsupported architecture and unparsable config.json', async () => {
    const cfgJson = JSON.parse(new TextDecoder().decode(files.get('config.json')!)) as Record<string, unknown>;
    const dir = await variant('arch', async (d) => writeFile(join(d, 'config.json'), JSON.stringify({ ...cfgJson, architectures: ['GPT2LMHeadModel'] })));
    await expectError(['eval', '--model', dir, '--data', dataFile], /config\.json/, /GPT2LMHeadModel/, /supported/);
    const dir2 = await variant('badjson', async (d) => writeFile(join(d, 'config.json'), '{"hidden_size": 32,'));
    await expectError(['eval', '--model', dir2, '--data', dataFile], /config\.json/, /JSON/);
  });

  it('token id outside the vocabulary, and a malformed data line', async () => {
    const bad = join(root, 'bad-token.jsonl');
    await writeFile(bad, jsonl([ROWS[0]!, { input_ids: [1, 2, cfg.vocabSize + 5] }]));
    await expectError(['eval', '--model', modelDir, '--data', bad], /bad-token\.jsonl line 2/, /outside the vocabulary/);
    const broken = join(root, 'broken.jsonl');
    await writeFile(broken, `${JSON.stringify(ROWS[0])}\n{"input_ids": [1, 2\n`);
    await expectError(['eval', '--model', modelDir, '--data', broken], /broken\.jsonl line 2/, /JSON/);
  });

  it('a model larger than the device allows: needed and offered, before any allocation', async () => {
    await expectError(['eval', '--model', modelDir, '--data', dataFile, '--gpu-memory', '64K'], /needs .*KiB/, /offers 64 KiB/);
  });

  it('usage errors name the flag', async () => {
    await expectError(['eval', '--model', modelDir], /--data is required/);
    await expectError(['eval', '--model', modelDir, '--data', dataFile, '--batch-size', '0'], /--batch-size/);
    await expectError(['generate', '--model', join(root, 'nope'), '--prompt', 'x'], /neither a folder nor a Hugging Face repo id/);
  });
});
