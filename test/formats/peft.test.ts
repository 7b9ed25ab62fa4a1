// PEFT adapters out and in: what tabtune writes passes a loader written to peft's rules, reads back
// to identical tensors (from a folder or a zip), and bad adapters fail by file and field, whole.

import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { toFloat32 } from '../../src/formats/dtype.ts';
import { readPeftAdapter } from '../../src/formats/peft.ts';
import { peftAdapterFiles } from '../../src/formats/peft-write.ts';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { zipFiles } from '../../src/formats/zip-files.ts';
import { DEFAULT_LORA, loraConfigFromAdapter, parseTargets } from '../../src/lora/config.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { randomLora } from '../helpers/lora.ts';
import { loadPeftByTheRules } from '../helpers/peft-rules.ts';

const files = makeTestModel({ architecture: 'qwen2', seed: 3, dtype: 'F32' });
const cfg = parseModelConfig(new TextDecoder().decode(files.get('config.json')!));
const other = parseModelConfig(new TextDecoder().decode(makeTestModel({ architecture: 'llama', seed: 3, hiddenSize: 48 }).get('config.json')!));
const lc = { ...DEFAULT_LORA, rank: 3, alpha: 6, targets: parseTargets('all-linear'), rslora: true };
const { weights } = randomLora(cfg, 3, 6 / Math.sqrt(3), 11);

describe('PEFT export and import', () => {
  it.each(['F32', 'F16', 'BF16'] as const)('%s: passes the peft rules and reads back to the same tensors', async (dtype) => {
    const out = peftAdapterFiles(lc, weights, 'acme/base', dtype);
    const byRules = await loadPeftByTheRules(new TextDecoder().decode(out.get('adapter_config.json')!), out.get('adapter_model.safetensors')!);
    expect(byRules.size).toBe(weights.modules.size * 2);
    const back = await readPeftAdapter(memoryFiles('adapter', out), cfg);
    expect(back.config).toMatchObject({ r: 3, loraAlpha: 6, useRslora: true, baseModelNameOrPath: 'acme/base' });
    for (const [name, m] of weights.modules) {
      const b = back.weights.modules.get(name)!;
      const rule = byRules.get(`base_model.model.${name}.lora_A.weight`)!;
      expect(Array.from(b.a)).toEqual(Array.from(toFloat32(dtype, rule.data)));
      if (dtype === 'F32') expect(Array.from(b.a)).toEqual(Array.from(m.a));
      expect(b.scaling).toBeCloseTo(6 / Math.sqrt(3), 6);
    }
  });

  it('reads a zip of the folder, wherever the files sit in it', async () => {
    const out = peftAdapterFiles(lc, weights, 'acme/base');
    const zip = zipSync({ 'my-adapter/adapter_config.json': out.get('adapter_config.json')!, 'my-adapter/adapter_model.safetensors': out.get('adapter_model.safetensors')! });
    const back = await readPeftAdapter(zipFiles('my-adapter.zip', zip), cfg);
    expect(back.weights.modules.size).toBe(weights.modules.size);
    const noConfig = zipSync({ 'adapter_model.safetensors': out.get('adapter_model.safetensors')! });
    await expect(readPeftAdapter(zipFiles('broken.zip', noConfig), cfg)).rejects.toThrow(/broken\.zip: has no adapter_config\.json/);
  });

  it('keeps per-module rank and alpha patterns, and continues with the same settings', async () => {
    const config = JSON.stringify({ peft_type: 'LORA', r: 3, lora_alpha: 6, target_modules: ['q_proj', 'v_proj'], alpha_pattern: { v_proj: 12 }, rank_pattern: {} });
    const tensors = [...weights.modules].filter(([n]) => /q_proj|v_proj/.test(n)).flatMap(([name, m]) => [
      { name: `base_model.model.${name}.lora_A.weight`, dtype: 'F32' as const, shape: [3, m.inFeatures], data: new Uint8Array(m.a.slice().buffer) },
      { name: `base_model.model.${name}.lora_B.weight`, dtype: 'F32' as const, shape: [m.outFeatures, 3], data: new Uint8Array(m.b.slice().buffer) },
    ]);
    const back = await readPeftAdapter(memoryFiles('a', new Map([['adapter_config.json', new TextEncoder().encode(config)], ['adapter_model.safetensors', writeSafetensors(tensors)]])), cfg);
    expect(back.weights.modules.get('model.layers.0.self_attn.q_proj')!.scaling).toBe(2);
    expect(back.weights.modules.get('model.layers.0.self_attn.v_proj')!.scaling).toBe(4);
    const cont = loraConfigFromAdapter(cfg, back.config, back.weights);
    expect(cont).toMatchObject({ rank: 3, alpha: 6, targets: ['q_proj', 'v_proj'], layers: null, alphaPattern: { v_proj: 12 } });
    const again = peftAdapterFiles(cont, back.weights, 'x');
    expect(JSON.parse(new TextDecoder().decode(again.get('adapter_config.json')!))).toMatchObject({ alpha_pattern: { v_proj: 12 }, target_modules: ['q_proj', 'v_proj'] });
  });

  it.each([
    [{ use_dora: true }, /adapter_config\.json: field "use_dora" is true; DoRA adapters are not supported/],
    [{ modules_to_save: ['lm_head'] }, /field "modules_to_save"/],
    [{ peft_type: 'PREFIX_TUNING' }, /field "peft_type"/],
    [{ r: 0 }, /field "r" must be a positive integer/],
  ])('refuses config %j, naming the file and field', async (extra, message) => {
    const out = peftAdapterFiles(lc, weights, 'acme/base');
    const config = { ...JSON.parse(new TextDecoder().decode(out.get('adapter_config.json')!)), ...extra };
    out.set('adapter_config.json', new TextEncoder().encode(JSON.stringify(config)));
    await expect(readPeftAdapter(memoryFiles('adapter', out), cfg)).rejects.toThrow(message);
  });

  it('refuses an adapter made for another base, naming the tensor and the shapes', async () => {
    const out = peftAdapterFiles(lc, weights, 'acme/base');
    await expect(readPeftAdapter(memoryFiles('adapter', out), other)).rejects.toThrow(/adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[3, 32\], but the base model needs \[r, 48\]/);
  });
});
