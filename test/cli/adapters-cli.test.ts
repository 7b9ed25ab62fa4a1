// Adapters leaving tabtune and coming back: merge, GGUF and PEFT export, zip import, and training
// that goes on from an existing adapter.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { ggufToLora } from '../../src/formats/gguf-lora.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { lastJson, runCli, tempDir, writeFolder } from '../helpers/cli.ts';
import { loadPeftByTheRules } from '../helpers/peft-rules.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'data');
const files = makeTestModel({ architecture: 'llama', seed: 95, dtype: 'F32' });
const cfg = parseModelConfig(new TextDecoder().decode(files.get('config.json')!));
let root: string;
let modelDir: string;
let adapter: string;
const data = join(FIXTURES, 'completion.jsonl');

beforeAll(async () => {
  root = await tempDir();
  modelDir = await writeFolder(join(root, 'model'), files);
  adapter = join(root, 'adapter');
  const r = await runCli(['train', '--model', modelDir, '--data', data, '--out', adapter, '--steps', '6', '--lr', '2e-2', '--targets', 'all-linear', '--rank', '4']);
  expect(r.code, r.stderr).toBe(0);
});

describe('merge and export', () => {
  it('tabtune merge output loads back into tabtune eval with the loss of base + adapter', async () => {
    const merged = join(root, 'merged');
    const m = await runCli(['merge', '--model', modelDir, '--adapter', adapter, '--out', merged]);
    expect(m.code, m.stderr).toBe(0);
    expect((await readdir(merged)).sort()).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']));
    const unmerged = lastJson(await runCli(['eval', '--model', modelDir, '--adapter', adapter, '--data', data, '--json', '--precision', 'f32']));
    const back = lastJson(await runCli(['eval', '--model', merged, '--data', data, '--json', '--precision', 'f32']));
    expect(back.tokens).toBe(unmerged.tokens);
    expect(Math.abs((back.loss as number) - (unmerged.loss as number)) / (unmerged.loss as number)).toBeLessThan(1e-5);
  });

  it('exports a GGUF LoRA that reads back to the same tensors', async () => {
    const out = join(root, 'adapter.gguf');
    const r = await runCli(['export', '--adapter', adapter, '--model', modelDir, '--format', 'gguf', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const gguf = ggufToLora(new Uint8Array(await readFile(out)), cfg);
    expect(gguf.architecture).toBe('llama');
    expect(gguf.alpha).toBe(16);
    const peft = await loadPeftByTheRules(await readFile(join(adapter, 'adapter_config.json'), 'utf8'), new Uint8Array(await readFile(join(adapter, 'adapter_model.safetensors'))));
    for (const [name, m] of gguf.weights.modules) {
      const b = peft.get(`base_model.model.${name}.lora_B.weight`)!;
      expect(Array.from(m.b)).toEqual(Array.from(new Float32Array(b.data.slice().buffer)));
    }
  });

  it('re-exports the adapter as bf16 PEFT, still passing the peft rules', async () => {
    const out = join(root, 'bf16');
    const r = await runCli(['export', '--adapter', adapter, '--model', modelDir, '--format', 'peft', '--dtype', 'bf16', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const t = await loadPeftByTheRules(await readFile(join(out, 'adapter_config.json'), 'utf8'), new Uint8Array(await readFile(join(out, 'adapter_model.safetensors'))));
    expect([...t.values()].every((x) => x.dtype === 'BF16')).toBe(true);
  });
});

describe('import', () => {
  it('evaluates a zipped adapter and goes on training from it', async () => {
    const zip = join(root, 'adapter.zip');
    await writeFile(zip, zipSync({
      'adapter/adapter_config.json': new Uint8Array(await readFile(join(adapter, 'adapter_config.json'))),
      'adapter/adapter_model.safetensors': new Uint8Array(await readFile(join(adapter, 'adapter_model.safetensors'))),
    }));
    const fromZip = lastJson(await runCli(['eval', '--model', modelDir, '--adapter', zip, '--data', data, '--json']));
    const fromDir = lastJson(await runCli(['eval', '--model', modelDir, '--adapter', adapter, '--data', data, '--json']));
    expect(fromZip.loss).toBe(fromDir.loss);
    const more = join(root, 'continued');
    const r = await runCli(['train', '--model', modelDir, '--data', data, '--adapter', zip, '--out', more, '--steps', '6', '--lr', '2e-2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/continuing from .*adapter\.zip \(r=4/);
    const first = JSON.parse(r.stdout.trim().split('\n')[0]!) as { loss: number };
    // The first step starts from the adapter's loss, not the base model's.
    const base = lastJson(await runCli(['eval', '--model', modelDir, '--data', data, '--json']));
    expect(Math.abs(first.loss - (fromDir.loss as number))).toBeLessThan(Math.abs(first.loss - (base.loss as number)));
    const after = lastJson(await runCli(['eval', '--model', modelDir, '--adapter', more, '--data', data, '--json']));
    expect(after.loss as number).toBeLessThan(fromDir.loss as number);
  });
});
