// PEFT adapters for the text model of a Gemma3ForConditionalGeneration base: peft finds that text
// model under "model.language_model" (transformers >= 4.52, whatever names the checkpoint file
// uses), beside a vision tower with q_proj/v_proj of its own. The adapter names its modules there,
// selects them with a regular expression that cannot reach the vision tower, reads back to the same
// tensors, and an adapter that touches the vision tower is refused by name.

import { describe, expect, it } from 'vitest';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { readPeftAdapter } from '../../src/formats/peft.ts';
import { modelModules, peftTextRoot, targetedModules } from '../../src/formats/peft-targets.ts';
import { parsePeftConfig } from '../../src/formats/peft-config.ts';
import { peftAdapterFiles } from '../../src/formats/peft-write.ts';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { DEFAULT_LORA, parseTargets } from '../../src/lora/config.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { randomLora } from '../helpers/lora.ts';
import { loadPeftByTheRules } from '../helpers/peft-rules.ts';

const cfgOf = (multimodal?: 'old' | 'new') =>
  parseModelConfig(new TextDecoder().decode(makeTestModel({ architecture: 'gemma3', seed: 4, numLayers: 6, ...(multimodal ? { multimodal } : {}) }).get('config.json')!));

describe('PEFT adapters on a Gemma 3 vision-language base', () => {
  const cfg = cfgOf('new');
  it('finds the text model under model.language_model, and a plain Gemma 3 under model', () => {
    expect(peftTextRoot(cfg)).toBe('model.language_model');
    expect(peftTextRoot(cfgOf())).toBe('model');
    expect(peftTextRoot(cfgOf('old'))).toBe('model.language_model');
    const names = modelModules(cfg).map((m) => m.name);
    expect(names).toContain('model.language_model.layers.5.mlp.down_proj');
    expect(names).toContain('model.vision_tower');
    expect(names.some((n) => n.startsWith('model.layers.'))).toBe(false);
  });

  it.each([
    ['every layer', null],
    ['layers 1 and 4', [1, 4]],
  ] as const)('writes names and a target regex peft applies to the text model only, and reads them back (%s)', async (_name, layers) => {
    const lc = { ...DEFAULT_LORA, rank: 2, alpha: 4, targets: parseTargets('q_proj,v_proj,down_proj'), layers: layers ? ([...layers] as number[]) : null };
    const { weights } = randomLora(cfg, 2, 2, 5);
    for (const name of [...weights.modules.keys()]) {
      const layer = Number(name.split('.')[2]);
      if (!lc.targets.some((t) => name.endsWith(`.${t}`)) || (lc.layers && !lc.layers.includes(layer))) weights.modules.delete(name);
    }
    const out = peftAdapterFiles(lc, weights, 'google/gemma-3-4b-it', 'F32', peftTextRoot(cfg));
    const configJson = new TextDecoder().decode(out.get('adapter_config.json')!);
    const byRules = await loadPeftByTheRules(configJson, out.get('adapter_model.safetensors')!);
    for (const key of byRules.keys()) expect(key).toMatch(/^base_model\.model\.model\.language_model\.layers\.\d+\.(self_attn|mlp)\.\w+\.lora_[AB]\.weight$/);

    // peft matches a string target_modules with re.fullmatch over every module name: here exactly the adapted ones.
    const config = JSON.parse(configJson) as { target_modules: string; layers_to_transform: unknown };
    expect(typeof config.target_modules).toBe('string');
    expect(config.layers_to_transform).toBeNull();
    const re = new RegExp(`^(?:${config.target_modules})$`);
    const vision = ['model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj', 'model.vision_tower.vision_model.encoder.layers.0.self_attn.v_proj'];
    const hits = [...modelModules(cfg).map((m) => m.name), ...vision].filter((n) => re.test(n));
    expect(hits.sort()).toEqual([...weights.modules.keys()].map((n) => n.replace(/^model\./, 'model.language_model.')).sort());

    const targets = targetedModules(parsePeftConfig(configJson, 'adapter_config.json'), cfg, 'adapter_config.json');
    expect(targets.size).toBe(weights.modules.size);
    const back = await readPeftAdapter(memoryFiles('adapter', out), cfg);
    expect([...back.weights.modules.keys()].sort()).toEqual([...weights.modules.keys()].sort());
    for (const [name, m] of weights.modules) expect(Array.from(back.weights.modules.get(name)!.b)).toEqual(Array.from(m.b));
  });

  it('refuses an adapter that adapts the vision tower, by tensor', async () => {
    const configJson = JSON.stringify({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 2, lora_alpha: 4, target_modules: ['q_proj'], base_model_name_or_path: 'x' });
    const vision = 'base_model.model.model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj';
    const zeros = new Uint8Array(2 * 8 * 4);
    const st = writeSafetensors([
      { name: `${vision}.lora_A.weight`, dtype: 'F32', shape: [2, 8], data: zeros },
      { name: `${vision}.lora_B.weight`, dtype: 'F32', shape: [8, 2], data: zeros },
    ], { format: 'pt' });
    const files = memoryFiles('adapter', new Map([['adapter_config.json', new TextEncoder().encode(configJson)], ['adapter_model.safetensors', st]]));
    await expect(readPeftAdapter(files, cfg)).rejects.toThrow(/vision_tower.*outside the text model \(model\.language_model\); tabtune runs and trains only the text model/);
  });
});
