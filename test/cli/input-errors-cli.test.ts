// Broken inputs through the real CLI: each is one line on stderr naming the file and the field,
// tensor or flag (no stack trace), and nothing the user had is overwritten when a command fails.

import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { peftAdapterFiles } from '../../src/formats/peft-write.ts';
import { DEFAULT_LORA } from '../../src/lora/config.ts';
import { initLora } from '../../src/lora/config.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { runCli, tempDir, writeFolder, type CliResult } from '../helpers/cli.ts';

const files = makeTestModel({ architecture: 'llama', seed: 21, dtype: 'F32' });
const cfg = parseModelConfig(new TextDecoder().decode(files.get('config.json')!));
const DATA = join(import.meta.dirname, '..', 'fixtures', 'data', 'completion.jsonl');
let root: string;
let modelDir: string;
let adapterDir: string;

/** A rank-4 q_proj/v_proj adapter as tabtune writes it, with adapter_config.json edited. */
async function adapterWith(name: string, config: Record<string, unknown> = {}): Promise<string> {
  const lc = { ...DEFAULT_LORA, rank: 4 };
  const out = peftAdapterFiles(lc, initLora(cfg, lc, 1), 'acme/base');
  const json = { ...(JSON.parse(new TextDecoder().decode(out.get('adapter_config.json')!)) as Record<string, unknown>), ...config };
  out.set('adapter_config.json', new TextEncoder().encode(JSON.stringify(json, null, 2)));
  return writeFolder(join(root, name), out);
}

function oneLine(r: CliResult, ...needles: RegExp[]): void {
  expect(r.code, r.stdout).not.toBe(0);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^Run "tabtune .* --help"/.test(l) && !/^memory plan:|completion data,/.test(l));
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  for (const n of needles) expect(lines[0]).toMatch(n);
}

async function digest(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of (await readdir(dir)).sort()) h.update(f).update(await readFile(join(dir, f)));
  return h.digest('hex');
}

beforeAll(async () => {
  root = await tempDir();
  modelDir = await writeFolder(join(root, 'model'), files);
  adapterDir = await adapterWith('adapter');
});

describe('adapters peft would refuse', () => {
  it('r = 8 in the config next to rank-4 tensors: export, merge and eval refuse it by file and field', async () => {
    const bad = await adapterWith('r8', { r: 8 });
    const needles = [/adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[4, 32\] \(rank 4\)/, /adapter_config\.json sets rank 8/];
    oneLine(await runCli(['export', '--model', modelDir, '--adapter', bad, '--format', 'peft', '--out', join(root, 'x')]), ...needles);
    oneLine(await runCli(['merge', '--model', modelDir, '--adapter', bad, '--out', join(root, 'merged')]), ...needles);
    oneLine(await runCli(['eval', '--model', modelDir, '--adapter', bad, '--data', DATA]), ...needles);
  });

  it('target_modules ["c_attn"] next to q_proj tensors: target module not found', async () => {
    const bad = await adapterWith('c_attn', { target_modules: ['c_attn'] });
    oneLine(await runCli(['export', '--model', modelDir, '--adapter', bad, '--format', 'gguf', '--out', join(root, 'x.gguf')]), /adapter_config\.json: field "target_modules" names "c_attn"/, /target module not found/);
  });

  it('train --adapter X --out X that fails leaves X as it was', async () => {
    const x = await adapterWith('in-place', { r: 8 });
    const before = await digest(x);
    oneLine(await runCli(['train', '--model', modelDir, '--data', DATA, '--adapter', x, '--out', x, '--steps', '1']), /adapter_config\.json sets rank 8/);
    const bad = join(root, 'bad.jsonl');
    await writeFile(bad, '{"prompt": 5, "completion": "x"}\n');
    const y = await adapterWith('in-place-2');
    const beforeY = await digest(y);
    oneLine(await runCli(['train', '--model', modelDir, '--data', bad, '--adapter', y, '--out', y, '--steps', '1']), /bad\.jsonl line 1: "prompt" must be a string/);
    expect(await digest(x)).toBe(before);
    expect(await digest(y)).toBe(beforeY);
  });
});

describe('flags', () => {
  const train = (...extra: string[]) => runCli(['train', '--model', modelDir, '--data', DATA, '--out', join(root, 'out'), '--steps', '1', ...extra]);

  it('negative numbers are read as values and refused by range', async () => {
    oneLine(await train('--rank', '-1'), /--rank must be an integer >= 1, got "-1"/);
    oneLine(await train('--lr', '-1e-3'), /--lr must be a number >= 1e-12 <= 1, got "-1e-3"/);
    oneLine(await runCli(['generate', '--model', modelDir, '--prompt', 'x', '--temperature', '-1']), /--temperature must be a number >= 0, got "-1"/);
  });

  it('--layers must be indices; --adapter does not go with the settings it replaces', async () => {
    oneLine(await train('--layers', 'a'), /--layers must be layer indices separated by commas.*got "a"/);
    oneLine(await train('--layers', '0,,1'), /--layers must be layer indices/);
    oneLine(await train('--adapter', adapterDir, '--rank', '16', '--targets', 'all-linear'), /--rank, --targets do not go with --adapter/);
    oneLine(await train('--full', '--rank', '4'), /--rank does not go with --full/);
    oneLine(await train('--patience', '2', '--eval-every', '1'), /--patience needs validation data: give --val-data FILE or --val-split F/);
    oneLine(await train('--val-split', '0.3', '--patience', '2'), /--patience counts validations: give --eval-every N too/);
    oneLine(await train('--data', join(root, 'missing.jsonl')), /--data ".*missing\.jsonl" does not exist/);
  });

  it('--out is checked before any work: not a file, not the folder the command reads', async () => {
    oneLine(await runCli(['train', '--model', modelDir, '--data', DATA, '--out', DATA, '--steps', '1']), /--out ".*completion\.jsonl" is a file; give a folder/);
    oneLine(await runCli(['train', '--model', modelDir, '--data', DATA, '--out', modelDir, '--steps', '1']), /is the --model folder/);
    oneLine(await runCli(['export', '--model', modelDir, '--adapter', adapterDir, '--format', 'gguf', '--out', root]), /--out ".*" is a folder; give a file name/);
    oneLine(await runCli(['grads', '--model', modelDir, '--adapter', adapterDir, '--data', DATA, '--out', root]), /is a folder/);
    oneLine(await runCli(['merge', '--model', modelDir, '--adapter', adapterDir, '--out', join(root, 'm'), '--max-shard-size', '0']), /--max-shard-size must be a positive size/);
  });

  it('merge into the base model folder is refused, and the model is untouched', async () => {
    const copy = join(root, 'model-copy');
    await cp(modelDir, copy, { recursive: true });
    const before = await digest(copy);
    oneLine(await runCli(['merge', '--model', copy, '--adapter', adapterDir, '--out', copy]), /--out ".*model-copy" is the --model folder/);
    expect(await digest(copy)).toBe(before);
  });
});

describe('model folders', () => {
  it('a tokenizer with more tokens than vocab_size, and an adapter given as --model, are named', async () => {
    const small = await writeFolder(join(root, 'small-vocab'), files);
    const config = JSON.parse(await readFile(join(small, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(small, 'config.json'), JSON.stringify({ ...config, vocab_size: 300 }));
    oneLine(await runCli(['eval', '--model', small, '--data', DATA]), /small-vocab\/tokenizer\.json: knows \d+ tokens .*but config\.json has vocab_size 300/);
    oneLine(await runCli(['eval', '--model', adapterDir, '--data', DATA]), /adapter: has no config\.json; it holds adapter_config\.json, so it is a PEFT adapter/);
  });

  it('non-finite weights are named by file and tensor', async () => {
    const dir = await writeFolder(join(root, 'nan-model'), files);
    const bytes = new Uint8Array(await readFile(join(dir, 'model.safetensors')));
    const header = await readSafetensorsHeader(bytesSource('x', bytes));
    const tensors = [...header.tensors.values()].map((t) => ({
      name: t.name,
      dtype: 'F32' as const,
      shape: t.shape,
      data: t.name === 'model.norm.weight' ? new Uint8Array(new Float32Array(t.byteLength / 4).fill(NaN).buffer) : bytes.slice(t.byteOffset, t.byteOffset + t.byteLength),
    }));
    await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tensors));
    oneLine(await runCli(['eval', '--model', dir, '--data', DATA]), /nan-model\/model\.safetensors: tensor "model\.norm\.weight" holds NaN at element 0/);
  });
});
