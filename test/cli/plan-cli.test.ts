// tabtune plan: memory from a config.json alone, a GGUF header or a full folder; the 8B promise
// (Q4_K fits 8 GB, bf16 does not and says what to cut); agreement with what loading really holds.

import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { openCheckpoint } from '../../src/formats/checkpoint.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { planWeights } from '../../src/model/weights.ts';
import { lastJson, runCli, tempDir, writeFolder } from '../helpers/cli.ts';
import { hfFolderToGguf } from '../helpers/gguf-model.ts';

const CONFIGS = join(import.meta.dirname, '..', 'fixtures', 'configs');
const GiB = 2 ** 30;
const LLAMA_8B = ['--model', join(CONFIGS, 'llama-3.1-8b'), '--rank', '16', '--targets', 'q_proj,k_proj,v_proj,o_proj', '--batch-size', '1', '--seq-len', '512', '--checkpointing', 'on', '--gpu-memory', '8G', '--json'];

describe('tabtune plan', () => {
  it("Llama-3.1-8B's published config: Q4_K fits 8 GB, bf16 does not and names the weights", async () => {
    const q = lastJson(await runCli(['plan', ...LLAMA_8B, '--base-weights', 'q4_k']));
    expect(q.total as number).toBeLessThan(7 * GiB);
    expect(q.total).toBe((q.weights as number) + (q.trainable as number) + (q.activations as number));
    expect(q.fits).toBe(true);
    // 8.03e9 weights at 4.5 bits in the file, 4.625 on the GPU (scales unpacked to whole bytes), vectors in f32.
    expect((q.weights as number) / GiB).toBeGreaterThan(4.2);
    expect((q.weights as number) / GiB).toBeLessThan(4.4);
    const b = await runCli(['plan', ...LLAMA_8B, '--base-weights', 'bf16']);
    expect(b.code).toBe(0);
    const bj = lastJson(b);
    expect(bj.fits).toBe(false);
    expect((bj.weights as number) / GiB).toBeGreaterThan(14.9);
    expect(bj.message).toMatch(/largest term is weights.*--base-weights q4_k/);
  });

  it('says which term to cut when activations dominate', async () => {
    const r = lastJson(await runCli(['plan', '--model', join(CONFIGS, 'qwen2.5-0.5b'), '--base-weights', 'q4_k', '--batch-size', '16', '--seq-len', '4096', '--checkpointing', 'off', '--gpu-memory', '4G', '--json']));
    expect(r.fits).toBe(false);
    expect(r.message).toMatch(/largest term is activations.*--checkpointing.*--seq-len/);
  });

  it('plans a GGUF from its header with the file\'s own types, equal to what loading counts', async () => {
    const hf = makeTestModel({ architecture: 'llama', dtype: 'F32', hiddenSize: 64, intermediateSize: 96, seed: 8 });
    const gguf = await hfFolderToGguf(hf, { typeOf: (n) => (n.includes('ffn') ? 'Q8_0' : n.includes('attn') ? 'Q4_0' : 'F16') });
    const dir = await tempDir();
    const path = join(dir, 'model-Q4_0.gguf');
    await writeFile(path, gguf);
    const r = lastJson(await runCli(['plan', '--model', path, '--json']));
    expect(r.weight_dtypes).toEqual({ Q8_0: 6, Q4_0: 8, f16: 2 });
    // The same count the loader checks against the device, from the HF folder quantized the same way.
    const cfg = parseModelConfig(new TextDecoder().decode(hf.get('config.json')!));
    const f16 = planWeights(cfg, await openCheckpoint(memoryFiles('hf', hf)), 'f16').bytes;
    expect(r.weights as number).toBeLessThan(f16);
    const folder = lastJson(await runCli(['plan', '--model', dir, '--json']));
    expect(folder.weights).toBe(r.weights);
  });

  it('plans from config.json alone, before any weights exist', async () => {
    const hf = makeTestModel({ architecture: 'qwen2', dtype: 'BF16', seed: 2 });
    const dir = await writeFolder(await tempDir(), new Map([['config.json', hf.get('config.json')!]]));
    const full = await writeFolder(await tempDir(), hf);
    for (const w of ['auto', 'q8_0', 'f32']) {
      const a = lastJson(await runCli(['plan', '--model', dir, '--base-weights', w, '--json']));
      const b = lastJson(await runCli(['plan', '--model', full, '--base-weights', w, '--json']));
      expect(a.total).toBe(b.total);
    }
  });

  it('refuses bad flags with one line', async () => {
    const r = await runCli(['plan', '--model', join(CONFIGS, 'qwen2.5-0.5b'), '--base-weights', 'q3_k']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--base-weights must be one of');
    const f = await runCli(['plan', '--model', join(CONFIGS, 'qwen2.5-0.5b'), '--base-weights', 'q4_k', '--full']);
    expect(f.stderr).toContain('--full');
    expect(f.stderr).not.toContain('    at ');
  });
});
