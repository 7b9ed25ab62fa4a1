// `tabtune export-recipe` through the real CLI: the folder axolotl runs. Its axolotl.yaml uses only
// keys axolotl defines and holds the flags' values; its rows are the ones `tabtune data tokenize`
// writes for the same data and settings (in axolotl's pre-tokenized columns); an adapter to go on
// from is copied byte for byte; mistakes are one line and leave nothing behind.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peftAdapterFiles } from '../../src/formats/peft-write.ts';
import { DEFAULT_LORA, initLora } from '../../src/lora/config.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { runCli, tempDir, writeFolder, type CliResult } from '../helpers/cli.ts';
import { hfFolderToGguf } from '../helpers/gguf-model.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { AXOLOTL_DATASET_KEYS, AXOLOTL_KEYS, AXOLOTL_ROW_COLUMNS } from '../recipe/axolotl-keys.ts';
import { loadYaml } from '../recipe/yaml-parsers.ts';

const files = makeTestModel({ architecture: 'llama', seed: 33, dtype: 'BF16', numLayers: 3 });
const cfg = parseModelConfig(new TextDecoder().decode(files.get('config.json')!));
const CHAT = join(import.meta.dirname, '..', 'fixtures', 'data', 'chat.jsonl');
const MALFORMED = join(import.meta.dirname, '..', 'fixtures', 'data', 'malformed.jsonl');
const words = ['cat', 'dog', 'bird', 'fish', 'horse', 'mouse', 'owl', 'bee', 'ant', 'fox', 'cow', 'pig'];

let root: string;
let modelDir: string;
let completions: string;
let hub: HubServer;

type Row = Record<string, number[]>;
type Config = Record<string, unknown>;

async function readRows(path: string): Promise<Row[]> {
  return (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Row);
}

async function readConfig(dir: string): Promise<Config> {
  return loadYaml(await readFile(join(dir, 'axolotl.yaml'), 'utf8')) as Config;
}

/** Runs export-recipe into a fresh folder; fails the test with stderr when it does not succeed. */
async function exportRecipe(name: string, args: string[]): Promise<{ dir: string; r: CliResult }> {
  const dir = join(root, name);
  const r = await runCli(['export-recipe', '--model', modelDir, '--out', dir, ...args]);
  expect(r.code, r.stderr).toBe(0);
  return { dir, r };
}

/** `tabtune data tokenize` of the same file and settings: what training sees. */
async function tokenized(name: string, data: string, args: string[]): Promise<Row[]> {
  const out = join(root, `${name}.tokens.jsonl`);
  const r = await runCli(['data', 'tokenize', data, '--model', modelDir, '--out', out, ...args]);
  expect(r.code, r.stderr).toBe(0);
  return readRows(out);
}

/** An axolotl row as tabtune's: attention_mask all ones and dropped, the columns in axolotl's order. */
function asTabtuneRow(row: Row): Row {
  expect(Object.keys(row)).toEqual(AXOLOTL_ROW_COLUMNS);
  expect(row.attention_mask).toEqual(row.input_ids!.map(() => 1));
  return { input_ids: row.input_ids!, labels: row.labels! };
}

function oneLine(r: CliResult, needle: RegExp): void {
  expect(r.code, r.stdout).not.toBe(0);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^Run "tabtune .* --help"/.test(l));
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(lines[0]).toMatch(needle);
}

beforeAll(async () => {
  root = await tempDir();
  modelDir = await writeFolder(join(root, 'model'), files);
  completions = join(root, 'completions.jsonl');
  await writeFile(completions, words.map((w, i) => JSON.stringify({ prompt: `Say ${w} ${i} times:\n`, completion: ` ${w}`.repeat((i % 3) + 1) })).join('\n') + '\n');
  hub = await startHubServer({ 'acme/tiny': { dir: modelDir } });
});
afterAll(() => hub?.close());

describe('tabtune export-recipe: axolotl.yaml', () => {
  it("writes only keys axolotl defines, holding train's flags", async () => {
    const { dir } = await exportRecipe('flags', [
      '--data', completions, '--rank', '4', '--alpha', '12', '--dropout', '0.1', '--targets', 'q_proj,k_proj,o_proj',
      '--layers', '0,2', '--rslora', '--init', 'gaussian', '--lr', '3e-5', '--steps', '7', '--batch-size', '2', '--grad-accum', '3',
      '--seq-len', '64', '--schedule', 'linear', '--warmup', '2', '--weight-decay', '0.01', '--clip', '0.5', '--seed', '9',
      '--val-split', '0.25', '--packing', '--eval-every', '2', '--patience', '3', '--checkpointing', 'off',
    ]);
    const c = await readConfig(dir);
    expect(Object.keys(c).filter((k) => !(k in AXOLOTL_KEYS))).toEqual([]);
    const entries = [...(c.datasets as Config[]), ...(c.test_datasets as Config[])];
    expect(entries.flatMap((e) => Object.keys(e)).filter((k) => !(k in AXOLOTL_DATASET_KEYS))).toEqual([]);
    expect(c).toEqual({
      base_model: modelDir, bf16: true,
      adapter: 'lora', lora_r: 4, lora_alpha: 12, lora_dropout: 0.1, peft_use_rslora: true, peft_init_lora_weights: 'gaussian',
      lora_target_modules: ['q_proj', 'k_proj', 'o_proj'], peft_layers_to_transform: [0, 2],
      datasets: [{ path: 'data.jsonl', ds_type: 'json', type: null, split: 'train' }],
      test_datasets: [{ path: 'val.jsonl', ds_type: 'json', type: null, split: 'train' }],
      val_set_size: 0, train_on_inputs: false, sequence_len: 64, sample_packing: true, attn_implementation: 'flash_attention_2',
      micro_batch_size: 2, gradient_accumulation_steps: 3, max_steps: 7, learning_rate: 3e-5, lr_scheduler: 'linear', warmup_steps: 2,
      optimizer: 'adamw_torch', adam_beta1: 0.9, adam_beta2: 0.999, adam_epsilon: 1e-8, weight_decay: 0.01, max_grad_norm: 0.5, seed: 9,
      gradient_checkpointing: false, eval_steps: 2, save_steps: 2, early_stopping_patience: 3, output_dir: './outputs/lora',
    });
  });

  it('writes epochs as num_epochs, the defaults as train has them, and a constant schedule as transformers names it', async () => {
    const { dir } = await exportRecipe('epochs', ['--data', completions, '--epochs', '2.5', '--schedule', 'constant', '--warmup', '4', '--clip', '0']);
    const c = await readConfig(dir);
    expect(c).toMatchObject({
      num_epochs: 2.5, lr_scheduler: 'constant_with_warmup', warmup_steps: 4, max_grad_norm: 0, learning_rate: 2e-4,
      lora_r: 8, lora_alpha: 16, lora_dropout: 0, peft_use_rslora: false, lora_target_modules: ['q_proj', 'v_proj'],
      micro_batch_size: 4, gradient_accumulation_steps: 1, sequence_len: cfg.maxPositionEmbeddings < 512 ? cfg.maxPositionEmbeddings : 512,
      sample_packing: false, val_set_size: 0, seed: 0, weight_decay: 0,
    });
    for (const k of ['max_steps', 'test_datasets', 'peft_layers_to_transform', 'attn_implementation', 'lora_model_dir', 'eval_steps']) expect(c[k], k).toBeUndefined();
    expect(existsSync(join(dir, 'val.jsonl'))).toBe(false);
  });

  it('names a hub model by its repo id and revision, reading only its config and tokenizer', async () => {
    const dir = join(root, 'hub');
    const env = { TABTUNE_CACHE: await tempDir('tabtune-cache-') };
    const r = await runCli(['export-recipe', '--model', 'acme/tiny', '--revision', 'v1', '--hub-base', hub.base, '--data', completions, '--out', dir], env);
    expect(r.code, r.stderr).toBe(0);
    expect(await readConfig(dir)).toMatchObject({ base_model: 'acme/tiny', revision_of_model: 'v1' });
    expect(hub.count('acme/tiny', 'model.safetensors')).toBe(0);
  });

  it('refuses a GGUF model unless --base-model names the checkpoint axolotl should load', async () => {
    // The tokenizer beside the GGUF, where tabtune looks for one the file lacks.
    const ggufDir = await writeFolder(join(root, 'gguf-model'), new Map([...files].filter(([f]) => f.startsWith('tokenizer'))));
    const gguf = join(ggufDir, 'tiny.gguf');
    await writeFile(gguf, await hfFolderToGguf(files));
    oneLine(await runCli(['export-recipe', '--model', gguf, '--data', completions, '--out', join(root, 'gguf-x')]), /--model .*tiny\.gguf is a GGUF model.*--base-model/);
    expect(existsSync(join(root, 'gguf-x'))).toBe(false);
    const r = await runCli(['export-recipe', '--model', gguf, '--base-model', 'acme/tiny-hf', '--data', completions, '--out', join(root, 'gguf')]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readConfig(join(root, 'gguf'))).toMatchObject({ base_model: 'acme/tiny-hf' });
  });
});

describe('tabtune export-recipe: the rows', () => {
  it('are the rows data tokenize writes, for a chat with its template and masks', async () => {
    const settings = ['--seq-len', '96', '--mask', 'last-turn'];
    const { dir } = await exportRecipe('chat', ['--data', CHAT, ...settings]);
    const rows = (await readRows(join(dir, 'data.jsonl'))).map(asTabtuneRow);
    const want = await tokenized('chat', CHAT, settings);
    expect(rows).toEqual(want);
    // The masks matter: something is trained and something is not.
    expect(rows.flatMap((r) => r.labels!).some((l) => l === -100)).toBe(true);
    expect(rows.flatMap((r) => r.labels!).some((l) => l !== -100)).toBe(true);
  });

  it('with --packing are written one example each, for axolotl to pack (sample_packing)', async () => {
    const settings = ['--seq-len', '128'];
    const { dir } = await exportRecipe('packed', ['--data', completions, '--packing', ...settings]);
    const rows = (await readRows(join(dir, 'data.jsonl'))).map(asTabtuneRow);
    expect(rows).toEqual(await tokenized('unpacked', completions, settings));
    expect((await tokenized('packed', completions, [...settings, '--packing'])).length).toBeLessThan(rows.length);
    expect(await readConfig(dir)).toMatchObject({ sample_packing: true });
  });

  it('with --val-split are split between data.jsonl and val.jsonl, as tabtune holds them out', async () => {
    const { dir, r } = await exportRecipe('split', ['--data', completions, '--val-split', '0.25', '--seed', '3']);
    const train = (await readRows(join(dir, 'data.jsonl'))).map(asTabtuneRow);
    const val = (await readRows(join(dir, 'val.jsonl'))).map(asTabtuneRow);
    expect(val).toHaveLength(3);
    const key = (row: Row) => JSON.stringify(row);
    expect([...train, ...val].map(key).sort()).toEqual((await tokenized('split', completions, [])).map(key).sort());
    expect(r.stdout).toContain('9 training rows, 3 validation rows');
  });

  it('with --val-data writes that file tokenized as val.jsonl', async () => {
    const { dir } = await exportRecipe('val-data', ['--data', completions, '--val-data', CHAT]);
    expect((await readRows(join(dir, 'val.jsonl'))).map(asTabtuneRow)).toEqual(await tokenized('val-data', CHAT, []));
    expect(await readConfig(dir)).toMatchObject({ test_datasets: [{ path: 'val.jsonl', ds_type: 'json', type: null, split: 'train' }], val_set_size: 0 });
  });
});

describe('tabtune export-recipe: --adapter and the README', () => {
  it('copies the adapter byte for byte and points lora_model_dir at it, with its own settings', async () => {
    const lc = { ...DEFAULT_LORA, rank: 2, alpha: 6, targets: ['q_proj', 'o_proj'] as typeof DEFAULT_LORA.targets };
    const adapter = await writeFolder(join(root, 'adapter-src'), peftAdapterFiles(lc, initLora(cfg, lc, 4), 'acme/tiny'));
    const { dir } = await exportRecipe('adapter', ['--data', completions, '--adapter', adapter]);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) {
      expect(Buffer.compare(await readFile(join(dir, 'adapter', f)), await readFile(join(adapter, f))), f).toBe(0);
    }
    expect(await readConfig(dir)).toMatchObject({ lora_model_dir: './adapter', lora_r: 2, lora_alpha: 6, lora_target_modules: ['q_proj', 'o_proj'] });
    oneLine(await runCli(['export-recipe', '--model', modelDir, '--data', completions, '--adapter', adapter, '--rank', '4', '--out', join(root, 'adapter-x')]), /--rank does not go with --adapter/);
  });

  it('says how to run it on one GPU and several, and how to bring the adapter back to tabtune', async () => {
    const { dir } = await exportRecipe('readme', ['--data', completions]);
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    for (const line of ['axolotl train axolotl.yaml', 'accelerate launch -m axolotl.cli.train axolotl.yaml', '--deepspeed deepspeed_configs/zero2.json', `tabtune eval --model ${modelDir} --adapter ./outputs/lora`]) {
      expect(readme).toContain(line);
    }
    expect(readme).toContain('12 training rows');
  });
});

describe('tabtune export-recipe: mistakes', () => {
  it('are one line each, and write nothing', async () => {
    const out = join(root, 'never');
    const cases: [string[], RegExp][] = [
      [['--model', modelDir, '--data', completions], /--out is required/],
      [['--model', modelDir, '--data', join(root, 'nope.jsonl'), '--out', out], /--data ".*nope\.jsonl" does not exist/],
      [['--model', modelDir, '--data', MALFORMED, '--out', out], /malformed\.jsonl.*line \d/],
      [['--model', modelDir, '--data', completions, '--out', completions], /--out ".*completions\.jsonl" is a file; give a folder/],
      [['--model', modelDir, '--data', completions, '--out', out, '--alpha', '2.5'], /--alpha is 2\.5, but axolotl's lora_alpha is an integer/],
      [['--model', modelDir, '--data', completions, '--out', out, '--full'], /--full: export-recipe writes a LoRA run/],
      [['--model', modelDir, '--data', completions, '--out', out, '--steps', '2', '--epochs', '1'], /give --steps or --epochs, not both/],
      [['--model', modelDir, '--data', completions, '--out', out, '--seq-len', '100000'], /--seq-len 100000 is above this model's maximum/],
    ];
    for (const [args, needle] of cases) oneLine(await runCli(['export-recipe', ...args]), needle);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses an --out whose data.jsonl is the --data file', async () => {
    const dir = await tempDir();
    const data = join(dir, 'data.jsonl');
    await writeFile(data, await readFile(completions));
    oneLine(await runCli(['export-recipe', '--model', modelDir, '--data', data, '--out', dir]), /data\.jsonl" is also an input/);
    expect(await readFile(data, 'utf8')).toBe(await readFile(completions, 'utf8'));
  });
});
