// tabtune train and grads as a user runs them: the trained adapter lowers the eval loss, the
// gradients match finite differences of `tabtune eval`, and bad settings fail before training.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/byte-source.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { DEFAULT_LORA, parseTargets, trainableParameterCount } from '../../src/lora/config.ts';
import { randomArray } from '../helpers/close.ts';
import { lastJson, runCli, tempDir, writeFolder } from '../helpers/cli.ts';
import { randomLora } from '../helpers/lora.ts';

const files = makeTestModel({ architecture: 'qwen2', seed: 61, dtype: 'F32', hiddenSize: 64 });
const cfg = parseModelConfig(new TextDecoder().decode(files.get('config.json')!));
const rows = Array.from({ length: 4 }, (_, i) => ({ input_ids: Array.from(randomArray(10, 600 + i), (x) => 3 + Math.floor((x + 1) * 190)) }));
const jsonl = (r: object[]) => r.map((x) => JSON.stringify(x)).join('\n') + '\n';

let root: string;
let modelDir: string;
let dataFile: string;

beforeAll(async () => {
  root = await tempDir();
  modelDir = await writeFolder(join(root, 'model'), files);
  dataFile = join(root, 'train.jsonl');
  await writeFile(dataFile, jsonl(rows));
});

describe('tabtune train', () => {
  it('writes a PEFT adapter whose eval loss on the training data is below the base model', async () => {
    const out = join(root, 'adapter');
    const r = await runCli(['train', '--model', modelDir, '--data', dataFile, '--val-data', dataFile, '--out', out, '--steps', '25', '--lr', '1e-2',
      '--rank', '8', '--targets', 'q_proj,k_proj,v_proj,o_proj', '--batch-size', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    const steps = lines.filter((l) => 'step' in l);
    expect(steps.length).toBe(25);
    for (const k of ['step', 'loss', 'lr', 'grad_norm', 'tokens_per_s', 'peak_bytes']) expect(typeof steps[0]![k], k).toBe('number');
    const summary = lines[lines.length - 1]!;
    expect(summary.trainable_params).toBe(trainableParameterCount(cfg, { ...DEFAULT_LORA, rank: 8, targets: parseTargets('q_proj,k_proj,v_proj,o_proj') }));
    expect(typeof summary.val_loss).toBe('number');
    expect(summary.steps).toBe(25);
    const config = JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] });
    const header = await readSafetensorsHeader(bytesSource('adapter_model.safetensors', await readFile(join(out, 'adapter_model.safetensors'))));
    expect(header.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape).toEqual([8, cfg.hiddenSize]);
    expect(header.metadata).toEqual({ format: 'pt' });

    const base = lastJson(await runCli(['eval', '--model', modelDir, '--data', dataFile, '--json']));
    const tuned = lastJson(await runCli(['eval', '--model', modelDir, '--adapter', out, '--data', dataFile, '--json']));
    expect(tuned.loss as number).toBeLessThan(0.8 * (base.loss as number));
    // The best checkpoint went to its own folder.
    expect((await readFile(join(out, 'checkpoint-best', 'adapter_config.json'), 'utf8')).length).toBeGreaterThan(0);
  });

  it('full fine-tuning writes a model folder that tabtune evaluates', async () => {
    const out = join(root, 'full');
    const r = await runCli(['train', '--model', modelDir, '--data', dataFile, '--out', out, '--steps', '5', '--lr', '1e-3', '--full']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/training [\d,]+ parameters \(full fine-tuning\)/);
    const e = await runCli(['eval', '--model', out, '--data', dataFile, '--json', '--precision', 'f32']);
    expect(e.code, e.stderr).toBe(0);
    expect(Number.isFinite(lastJson(e).loss)).toBe(true);
  });

  it.each([
    [['--targets', 'q_proj,attn'], /unknown target module "attn".*q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/],
    [['--rank', '0'], /--rank must be an integer >= 1/],
    [['--rank', '100'], /rank 100 is larger than q_proj allows/],
    [['--lr', '5'], /--lr must be a number/],
    [['--batch-size', '0'], /--batch-size must be an integer >= 1/],
    [['--seq-len', '100000'], /--seq-len 100000 is above this model's maximum/],
    [['--gpu-memory', '100K'], /Training with these settings .*needs .* but the device offers 100 KiB/],
  ])('refuses %s before training', async (extra, message) => {
    const r = await runCli(['train', '--model', modelDir, '--data', dataFile, '--out', join(root, 'bad'), '--steps', '2', ...extra]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('tabtune grads', () => {
  it('matches central finite differences of tabtune eval', async () => {
    const rank = 2;
    const scaling = 2; // alpha 4 / r 2
    const { weights } = randomLora(cfg, rank, scaling, 900, 0.5);
    const tensors = [...weights.modules].flatMap(([name, m]) => [
      { name: `base_model.model.${name}.lora_A.weight`, dtype: 'F32' as const, shape: [rank, m.inFeatures], data: new Uint8Array(m.a.buffer.slice(0)) },
      { name: `base_model.model.${name}.lora_B.weight`, dtype: 'F32' as const, shape: [m.outFeatures, rank], data: new Uint8Array(m.b.buffer.slice(0)) },
    ]);
    const adapterConfig = JSON.stringify({ peft_type: 'LORA', r: rank, lora_alpha: 4, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] });
    const write = (dir: string, ts: typeof tensors) =>
      writeFolder(join(root, dir), new Map<string, string | Uint8Array>([['adapter_config.json', adapterConfig], ['adapter_model.safetensors', writeSafetensors(ts)]]));
    const adapter = await write('fd-base', tensors);
    const gradsFile = join(root, 'grads.safetensors');
    const g = await runCli(['grads', '--model', modelDir, '--adapter', adapter, '--data', dataFile, '--out', gradsFile, '--precision', 'f32']);
    expect(g.code, g.stderr).toBe(0);
    const gradBytes = await readFile(gradsFile);
    const header = await readSafetensorsHeader(bytesSource('grads', gradBytes));
    expect(header.tensors.size).toBe(tensors.length);
    const gradOf = (name: string, i: number) => {
      const t = header.tensors.get(name)!;
      return new DataView(gradBytes.buffer, gradBytes.byteOffset + t.byteOffset + 4 * i, 4).getFloat32(0, true);
    };
    // The largest entries of a few tensors, perturbed by +-h through real adapter folders.
    const picks = [tensors[0]!, tensors[3]!, tensors[12]!, tensors[13]!];
    const h = 2e-3; // small enough for the curvature, large enough for f32 eval noise (~1e-6 of a loss of ~6)
    for (const t of picks) {
      const values = new Float32Array(t.data.buffer.slice(0));
      let i = 0;
      for (let j = 0; j < values.length; j++) if (Math.abs(gradOf(t.name, j)) > Math.abs(gradOf(t.name, i))) i = j;
      const evalWith = async (delta: number) => {
        const changed = values.slice();
        changed[i]! += delta;
        const dir = await write(`fd-${t.name.length}-${i}-${delta}`, tensors.map((x) => (x === t ? { ...x, data: new Uint8Array(changed.buffer) } : x)));
        return lastJson(await runCli(['eval', '--model', modelDir, '--adapter', dir, '--data', dataFile, '--json', '--precision', 'f32'])).loss as number;
      };
      const fd = ((await evalWith(h)) - (await evalWith(-h))) / (2 * h);
      const got = gradOf(t.name, i);
      expect(Math.abs(got - fd), `${t.name}[${i}]: grads ${got}, finite difference ${fd}`).toBeLessThan(2e-2 * Math.abs(fd) + 1e-4);
    }
  });
});
