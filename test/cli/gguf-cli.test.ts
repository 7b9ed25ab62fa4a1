// Everything on a quantized GGUF base through the real CLI, as a user with an Ollama / LM Studio file
// would: inspect data, train, eval, generate, grads, export the GGUF LoRA, merge into a GGUF and
// into a Hugging Face folder. The PEFT adapter trained on the GGUF applies to the original
// checkpoint (q/k rows un-permuted), and full fine-tuning of a quantized base is refused.

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTestModel } from '../../src/model/test-model.ts';
import type { GgmlType } from '../../src/quant/ggml-types.ts';
import { lastJson, runCli, tempDir, writeFolder } from '../helpers/cli.ts';
import { hfFolderToGguf } from '../helpers/gguf-model.ts';
import { ggufTokenizerMetadata } from '../helpers/gguf-tokenizer-meta.ts';

const DATA = join(import.meta.dirname, '..', 'fixtures', 'data', 'completion.jsonl');
const hf = makeTestModel({ architecture: 'llama', hiddenSize: 256, intermediateSize: 512, numHeads: 4, numKvHeads: 2, numLayers: 2, dtype: 'F32', seed: 90 });
const dec = (f: string) => JSON.parse(new TextDecoder().decode(hf.get(f)!)) as Record<string, unknown>;
let root: string;
let hfDir: string;
let q8: string;
let q4km: string;

async function gguf(name: string, typeOf: (n: string) => GgmlType): Promise<string> {
  const tokenizer = ggufTokenizerMetadata(dec('tokenizer.json'), dec('tokenizer_config.json'), 'gpt-2', { vocabSize: dec('config.json').vocab_size as number });
  const path = join(root, name);
  await writeFile(path, await hfFolderToGguf(hf, { typeOf, tokenizer }));
  return path;
}

const loss = async (args: string[]) => {
  const r = await runCli(['eval', '--data', DATA, '--json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return lastJson(r).loss as number;
};

describe('a GGUF base through the CLI', () => {
  beforeAll(async () => {
    root = await tempDir('tabtune-gguf-cli-');
    hfDir = await writeFolder(join(root, 'hf'), hf);
    q8 = await gguf('model-Q8_0.gguf', () => 'Q8_0');
    q4km = await gguf('model-Q4_K_M.gguf', (n) => (/attn_v|ffn_down|^output/.test(n) ? 'Q6_K' : 'Q4_K'));
  });

  it('inspects data, trains, evaluates, generates and writes gradients on a Q4_K_M file', async () => {
    const inspect = await runCli(['data', 'inspect', DATA, '--model', q4km, '--json']);
    expect(inspect.code, inspect.stderr).toBe(0);
    const adapter = join(root, 'adapter-q4km');
    const t = await runCli(['train', '--model', q4km, '--data', DATA, '--out', adapter, '--steps', '4', '--rank', '4', '--targets', 'all-linear', '--lr', '1e-2', '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/memory plan/);
    const summary = lastJson(t);
    expect(Number.isFinite(summary.final_loss)).toBe(true);
    const before = await loss(['--model', q4km]);
    const after = await loss(['--model', q4km, '--adapter', adapter]);
    expect(after).toBeLessThan(before);
    const g = await runCli(['generate', '--model', q4km, '--adapter', adapter, '--prompt', 'The small model', '--max-new-tokens', '4']);
    expect(g.code, g.stderr).toBe(0);
    const grads = join(root, 'grads.safetensors');
    const gr = await runCli(['grads', '--model', q4km, '--adapter', adapter, '--data', DATA, '--out', grads]);
    expect(gr.code, gr.stderr).toBe(0);
    expect(existsSync(grads)).toBe(true);
    const exported = join(root, 'adapter.gguf');
    const ex = await runCli(['export', '--adapter', adapter, '--model', q4km, '--format', 'gguf', '--out', exported]);
    expect(ex.code, ex.stderr).toBe(0);
  });

  it('the PEFT adapter from a GGUF run applies to the original checkpoint; merges into a GGUF and a folder', async () => {
    const adapter = join(root, 'adapter-q8');
    const t = await runCli(['train', '--model', q8, '--data', DATA, '--out', adapter, '--steps', '6', '--rank', '4', '--targets', 'all-linear', '--lr', '2e-2']);
    expect(t.code, t.stderr).toBe(0);
    const onGguf = await loss(['--model', q8, '--adapter', adapter]);
    const onOriginal = await loss(['--model', hfDir, '--adapter', adapter, '--base-weights', 'f32']);
    const baseGguf = await loss(['--model', q8]);
    // Q8_0 moves the loss by far less than the adapter does; a wrongly permuted q/k would not.
    expect(Math.abs(onGguf - onOriginal)).toBeLessThan(0.02);
    expect(baseGguf - onGguf).toBeGreaterThan(0.1);

    const mergedGguf = join(root, 'merged.gguf');
    const m = await runCli(['merge', '--model', q8, '--adapter', adapter, '--format', 'gguf', '--dtype', 'q8_0', '--out', mergedGguf]);
    expect(m.code, m.stderr).toBe(0);
    expect(Math.abs((await loss(['--model', mergedGguf])) - onGguf)).toBeLessThan(0.02);
    const mergedHf = join(root, 'merged-hf');
    const mh = await runCli(['merge', '--model', q8, '--adapter', adapter, '--out', mergedHf, '--dtype', 'f32']);
    expect(mh.code, mh.stderr).toBe(0);
    expect(Math.abs((await loss(['--model', mergedHf])) - onGguf)).toBeLessThan(1e-3);
  });

  it('refuses full fine-tuning of a quantized base, and a GGUF merge into a folder base, with the reason', async () => {
    const f = await runCli(['train', '--model', q4km, '--data', DATA, '--out', join(root, 'full'), '--full', '--steps', '1']);
    expect(f.code).toBe(2);
    expect(f.stderr).toMatch(/--full trains every weight.*Q4_K|quantized/);
    const q = await runCli(['train', '--model', hfDir, '--data', DATA, '--out', join(root, 'full2'), '--full', '--base-weights', 'q4_k', '--steps', '1']);
    expect(q.code).toBe(2);
    expect(q.stderr).toContain('--base-weights q4_k');
    const mg = await runCli(['merge', '--model', hfDir, '--adapter', join(root, 'adapter-q8'), '--format', 'gguf', '--out', join(root, 'x.gguf')]);
    expect(mg.code).toBe(2);
    expect(mg.stderr).toContain('--format hf');
  });
});
