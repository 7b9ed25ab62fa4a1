// Datasets through the CLI: `tabtune data inspect` on a sample of every format, and training and
// evaluation on formats other than pre-tokenized rows (chat masking, packing, a validation split,
// bad rows skipped or stopped at).

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTestModel } from '../../src/model/test-model.ts';
import { lastJson, runCli, tempDir, writeFolder } from '../helpers/cli.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'data');
let root: string;
let modelDir: string;

beforeAll(async () => {
  root = await tempDir();
  modelDir = await writeFolder(join(root, 'model'), makeTestModel({ architecture: 'llama', seed: 91, dtype: 'F32' }));
});

describe('tabtune data inspect', () => {
  it.each([
    ['text.jsonl', 'text', 3],
    ['completion.jsonl', 'completion', 3],
    ['chat.jsonl', 'chat', 2],
    ['alpaca.json', 'alpaca', 2],
    ['tokens.jsonl', 'tokens', 2],
    ['completion.csv', 'completion', 2],
    ['alpaca.tsv', 'alpaca', 2],
    ['text.txt', 'text', 2],
  ])('%s: statistics and a preview with the masked parts marked', async (file, format, examples) => {
    const r = await runCli(['data', 'inspect', join(FIXTURES, file), '--model', modelDir, '--examples', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${format} data, ${examples} examples`);
    expect(r.stdout).toMatch(/tokens per example: min \d+, median [\d.]+, max \d+/);
    expect(r.stdout).toMatch(/trained tokens \d+ .*masked \d+/);
    expect(r.stdout).toContain('--- example 1');
    // Masked parts are marked; for completions they hold the prompt, never the completion.
    expect(r.stdout).toMatch(/⟦[^⟧]*⟧/);
    if (format === 'completion' && file.endsWith('.jsonl')) expect(r.stdout).toMatch(/⟦Translate to French: cat\n⟧chat/);
    if (format === 'chat') expect(r.stdout).toMatch(/⟧Paris\./);
  });

  it('reports packing and the JSON summary', async () => {
    const r = await runCli(['data', 'inspect', join(FIXTURES, 'text.jsonl'), '--model', modelDir, '--packing', '--seq-len', '128', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = lastJson(r);
    expect(s).toMatchObject({ format: 'text', examples: 3, rows: 1 });
  });

  it('names the file and line of a bad row, and skips bad rows when asked', async () => {
    const bad = join(root, 'bad.jsonl');
    await writeFile(bad, '{"prompt": "a", "completion": "b"}\n{"prompt": "c"}\n{"prompt": "d", "completion": "e"}\n');
    const stop = await runCli(['data', 'inspect', bad, '--model', modelDir]);
    expect(stop.code).not.toBe(0);
    expect(stop.stderr).toMatch(/bad\.jsonl line 2: .*completion/);
    const skip = await runCli(['data', 'inspect', bad, '--model', modelDir, '--skip-bad-rows']);
    expect(skip.code, skip.stderr).toBe(0);
    expect(skip.stderr).toMatch(/skipped 1 bad row:\n\s+.*bad\.jsonl line 2/);
    expect(skip.stdout).toContain('completion data, 2 examples');
  });

  it('refuses a binary file and an empty one by name', async () => {
    const bin = join(root, 'model', 'model.safetensors');
    const r = await runCli(['data', 'inspect', bin, '--model', modelDir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/model\.safetensors.*binary/);
    const empty = join(root, 'empty.jsonl');
    await writeFile(empty, '');
    const e = await runCli(['data', 'inspect', empty, '--model', modelDir]);
    expect(e.stderr).toMatch(/empty\.jsonl.*no examples/);
  });
});

describe('training and evaluation on every format', () => {
  it('trains on chat data with assistant-only masking, packing and a validation split', async () => {
    const out = join(root, 'chat-adapter');
    const data = join(FIXTURES, 'chat.jsonl');
    const r = await runCli(['train', '--model', modelDir, '--data', data, '--out', out, '--steps', '4', '--lr', '1e-2', '--batch-size', '1', '--packing', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/chat data/);
    const e = await runCli(['eval', '--model', modelDir, '--adapter', out, '--data', data, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(lastJson(e).tokens as number).toBeGreaterThan(0);
    const split = await runCli(['train', '--model', modelDir, '--data', join(FIXTURES, 'text.jsonl'), '--out', join(root, 'split'), '--steps', '2', '--val-split', '0.34', '--json']);
    expect(split.code, split.stderr).toBe(0);
    expect(split.stderr).toMatch(/2 training rows, 1 validation rows/);
    expect(typeof lastJson(split).val_loss).toBe('number');
  });

  it('eval over a completion file counts only completion tokens', async () => {
    const all = lastJson(await runCli(['eval', '--model', modelDir, '--data', join(FIXTURES, 'completion.jsonl'), '--mask', 'none', '--json']));
    const completions = lastJson(await runCli(['eval', '--model', modelDir, '--data', join(FIXTURES, 'completion.jsonl'), '--json']));
    expect(completions.tokens as number).toBeLessThan((all.tokens as number) / 2);
  });
});
