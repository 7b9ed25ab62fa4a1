// Adapters that Hugging Face peft would refuse are refused, each with one AdapterError naming the
// file and the field or tensor: rank against shapes (peft: size mismatch), targets against the model
// and the tensors (peft: target module not found), partners, unknown key suffixes, dtypes, values.
// And adapters peft loads (rank_pattern, alpha_pattern, rsLoRA, regex and all-linear targets,
// layers_to_transform) still load.

import { describe, expect, it } from 'vitest';
import { bytesSource, memoryFiles } from '../../src/formats/byte-source.ts';
import { AdapterError } from '../../src/formats/errors.ts';
import { readPeftAdapter } from '../../src/formats/peft.ts';
import { peftAdapterFiles } from '../../src/formats/peft-write.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/formats/safetensors-write.ts';
import type { LoraWeights } from '../../src/lora/adapter.ts';
import { DEFAULT_LORA, type LoraConfig, parseTargets } from '../../src/lora/config.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { LINEAR_MODULES, linearName, linearShape, type LinearModule } from '../../src/model/params.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { randomArray } from '../helpers/close.ts';

// A tiny llama: hidden 32, 2 layers, q_proj [32, 32], k/v_proj [16, 32], mlp [64, 32] / [32, 64].
const cfg = parseModelConfig(new TextDecoder().decode(makeTestModel({ architecture: 'llama', seed: 2 }).get('config.json')!));
const Q0 = 'base_model.model.model.layers.0.self_attn.q_proj';

/** Random non-zero factors for `targets` in `layers`, rank per module from `rankOf`. */
function weightsFor(targets: readonly LinearModule[], layers: number[], rankOf: (m: LinearModule) => number): LoraWeights {
  const modules: LoraWeights['modules'] = new Map();
  let seed = 1;
  for (const l of layers) {
    for (const m of targets) {
      const [out, inp] = linearShape(cfg, m);
      const r = rankOf(m);
      const a = Float32Array.from(randomArray(r * inp, seed++, 0.3));
      const b = Float32Array.from(randomArray(out * r, seed++, 0.3));
      modules.set(linearName(l, m), { rank: r, inFeatures: inp, outFeatures: out, scaling: 1, a, b });
    }
  }
  return { modules };
}

interface Variant {
  rank?: number;
  targets?: readonly LinearModule[];
  layers?: number[];
  rankOf?: (m: LinearModule) => number;
  /** Fields merged into adapter_config.json (undefined deletes one). */
  config?: Record<string, unknown>;
  tensors?: (t: TensorToWrite[]) => TensorToWrite[];
}

/** A PEFT folder as tabtune writes it (rank 4, all-linear, both layers), then edited. */
async function adapter(v: Variant = {}): Promise<Map<string, Uint8Array>> {
  const rank = v.rank ?? 4;
  const targets = v.targets ?? LINEAR_MODULES;
  const lc: LoraConfig = { ...DEFAULT_LORA, rank, alpha: 8, targets: [...targets], layers: null };
  const files = peftAdapterFiles(lc, weightsFor(targets, v.layers ?? [0, 1], v.rankOf ?? (() => rank)), 'acme/base');
  const config = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')!)) as Record<string, unknown>;
  for (const [k, x] of Object.entries(v.config ?? {})) {
    if (x === undefined) delete config[k];
    else config[k] = x;
  }
  files.set('adapter_config.json', new TextEncoder().encode(JSON.stringify(config)));
  if (v.tensors) {
    const bytes = files.get('adapter_model.safetensors')!;
    const header = await readSafetensorsHeader(bytesSource('x', bytes));
    const list = [...header.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype as 'F32', shape: t.shape, data: bytes.slice(t.byteOffset, t.byteOffset + t.byteLength) }));
    files.set('adapter_model.safetensors', writeSafetensors(v.tensors(list)));
  }
  return files;
}

const load = async (files: Map<string, Uint8Array>) => readPeftAdapter(memoryFiles('my-adapter', files), cfg);

async function refused(files: Map<string, Uint8Array>, key: string, ...messages: RegExp[]): Promise<AdapterError> {
  const err = await load(files).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the adapter was accepted').toBeInstanceOf(AdapterError);
  const e = err as AdapterError;
  expect(e.key).toBe(key);
  expect(e.message.split('\n')).toHaveLength(1);
  for (const m of messages) expect(e.message).toMatch(m);
  return e;
}

const f32 = (name: string, shape: number[], fill = 0.5): TensorToWrite => ({
  name,
  dtype: 'F32',
  shape,
  data: new Uint8Array(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill).buffer),
});

describe('rank: the config against every lora_A / lora_B shape (peft: size mismatch)', () => {
  it('refuses r = 8 in adapter_config.json next to rank-4 tensors', async () => {
    const e = await refused(
      await adapter({ config: { r: 8 } }),
      `${Q0}.lora_A.weight`,
      /^my-adapter\/adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[4, 32\] \(rank 4\)/,
      /adapter_config\.json sets rank 8 for this module \("r"\)/,
      /expects \[8, 32\].*size mismatch/,
      /set the rank in adapter_config\.json to 4/,
    );
    expect(e.file).toBe('my-adapter/adapter_model.safetensors');
  });

  it('refuses a rank_pattern entry the tensors do not follow, naming the entry', async () => {
    await refused(await adapter({ config: { rank_pattern: { 'v_proj': 8 } } }), 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight', /"rank_pattern" entry "v_proj"/, /expects \[8, 32\]/);
  });

  it('refuses lora_B whose rank differs from the config even when lora_A agrees', async () => {
    const files = await adapter({ tensors: (t) => t.map((x) => (x.name === `${Q0}.lora_B.weight` ? f32(x.name, [32, 3]) : x)) });
    await refused(files, `${Q0}.lora_B.weight`, /has shape \[32, 3\] \(rank 3\)/, /expects \[32, 4\]/);
  });

  it('loads per-module ranks from rank_pattern (suffix and regex keys) with their own alpha and rsLoRA scaling', async () => {
    const rankOf = (m: LinearModule) => (m === 'q_proj' ? 8 : m === 'down_proj' ? 2 : 4);
    const files = await adapter({ rankOf, config: { rank_pattern: { q_proj: 8, 'model\\.layers\\.\\d+\\.mlp\\.down_proj': 2 }, alpha_pattern: { down_proj: 6 }, use_rslora: true } });
    const { weights } = await load(files);
    const q = weights.modules.get('model.layers.1.self_attn.q_proj')!;
    expect(q.rank).toBe(8);
    expect(q.scaling).toBeCloseTo(8 / Math.sqrt(8), 12);
    const down = weights.modules.get('model.layers.0.mlp.down_proj')!;
    expect(down.rank).toBe(2);
    expect(down.scaling).toBeCloseTo(6 / Math.sqrt(2), 12);
    expect(weights.modules.get('model.layers.0.mlp.up_proj')!.rank).toBe(4);
  });
});

describe('targets: target_modules / layers_to_transform against the model and the tensors', () => {
  it('refuses target_modules ["c_attn"] next to q_proj tensors: target module not found', async () => {
    const e = await refused(
      await adapter({ targets: ['q_proj'], config: { target_modules: ['c_attn'] } }),
      'target_modules',
      /^my-adapter\/adapter_config\.json: field "target_modules" names "c_attn", which matches no module of this LlamaForCausalLM/,
      /target module not found/,
      /q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/,
    );
    expect(e.file).toBe('my-adapter/adapter_config.json');
  });

  it('refuses one unknown name among known ones', async () => {
    await refused(await adapter({ config: { target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'c_fc'] } }), 'target_modules', /"c_fc"/);
  });

  it('refuses tensors for a module the config does not target', async () => {
    await refused(
      await adapter({ config: { target_modules: ['q_proj', 'v_proj'] } }),
      'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight',
      /adapts "model\.layers\.0\.self_attn\.k_proj", which adapter_config\.json does not target \("target_modules" \["q_proj","v_proj"\]\)/,
    );
  });

  it('reads a regex target_modules as peft does (re.fullmatch), Python named groups included', async () => {
    const ok = await load(await adapter({ targets: ['q_proj', 'v_proj'], config: { target_modules: '.*\\.(?P<m>q_proj|v_proj)' } }));
    expect(ok.weights.modules.size).toBe(4);
    await refused(await adapter({ config: { target_modules: '.*\\.(q_proj|v_proj)' } }), 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight', /does not target/);
    await refused(await adapter({ config: { target_modules: 'c_attn|c_proj' } }), 'target_modules', /the regular expression "c_attn\|c_proj", which matches no module/);
    await refused(await adapter({ config: { target_modules: '.*(q_proj' } }), 'target_modules', /not a valid regular expression/);
    await refused(await adapter({ config: { target_modules: 'q_proj' } }), 'target_modules', /is the string "q_proj", which peft reads as a regular expression over the whole module name/);
  });

  it('refuses a target that selects a module LoRA cannot wrap (a container or a norm)', async () => {
    await refused(await adapter({ config: { target_modules: 'model\\.layers\\.0.*' } }), 'target_modules', /selects "model\.layers\.0", which is not a linear layer/);
    await refused(await adapter({ config: { target_modules: ['q_proj', 'input_layernorm'] } }), 'target_modules', /"model\.layers\.0\.input_layernorm", which is not a linear layer/);
  });

  it('accepts "all-linear", and full module names', async () => {
    expect((await load(await adapter({ config: { target_modules: 'all-linear' } }))).weights.modules.size).toBe(14);
    const full = await adapter({ targets: ['q_proj'], layers: [1], config: { target_modules: ['model.layers.1.self_attn.q_proj'] } });
    expect([...(await load(full)).weights.modules.keys()]).toEqual(['model.layers.1.self_attn.q_proj']);
  });

  it('uses peft\'s default (q_proj, v_proj) when target_modules is absent', async () => {
    expect((await load(await adapter({ targets: ['q_proj', 'v_proj'], config: { target_modules: undefined } }))).weights.modules.size).toBe(4);
    await refused(await adapter({ config: { target_modules: null } }), 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight', /absent, so peft's default \["q_proj","v_proj"\]/);
  });

  it('refuses empty or mistyped target_modules', async () => {
    await refused(await adapter({ config: { target_modules: [] } }), 'target_modules', /is an empty list/);
    await refused(await adapter({ config: { target_modules: 5 } }), 'target_modules', /must be a list of module names or a regular expression string, got 5/);
    await refused(await adapter({ config: { target_modules: ['q_proj', 3] } }), 'target_modules', /holds 3/);
  });

  it('honours layers_to_transform and layers_pattern', async () => {
    const layer0 = await adapter({ layers: [0], config: { layers_to_transform: [0] } });
    expect([...(await load(layer0)).weights.modules.keys()].every((n) => n.startsWith('model.layers.0.'))).toBe(true);
    expect((await load(await adapter({ layers: [1], config: { layers_to_transform: 1, layers_pattern: 'layers' } }))).weights.modules.size).toBe(7);
    await refused(await adapter({ config: { layers_to_transform: [0] } }), 'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight', /"layers_to_transform" \[0\]/);
    await refused(await adapter({ config: { layers_to_transform: [0, 7] } }), 'layers_to_transform', /lists layer 7, but this LlamaForCausalLM has 2 layers \(0 \.\. 1\)/);
    await refused(await adapter({ config: { layers_to_transform: [0, 1], layers_pattern: 'h' } }), 'layers_pattern', /finds no layer index/);
    await refused(await adapter({ config: { layers_pattern: 'layers' } }), 'layers_pattern', /without "layers_to_transform"/);
    await refused(await adapter({ config: { target_modules: 'all-linear', layers_to_transform: [0] } }), 'layers_to_transform', /target_modules" is a string/);
    await refused(await adapter({ config: { layers_to_transform: ['0'] } }), 'layers_to_transform', /holds "0"/);
  });

  it('honours exclude_modules', async () => {
    const files = await adapter({ targets: ['k_proj', 'v_proj'], config: { target_modules: ['k_proj', 'v_proj', 'q_proj'], exclude_modules: ['q_proj'] } });
    expect((await load(files)).weights.modules.size).toBe(4);
    await refused(await adapter({ config: { exclude_modules: ['q_proj'] } }), `${Q0}.lora_A.weight`, /does not target \("target_modules" .*"exclude_modules" \["q_proj"\]\)/);
    await refused(await adapter({ config: { target_modules: ['q_proj'], exclude_modules: '.*' } }), 'target_modules', /selects no linear layer/);
  });
});

describe('tensors: partners, modules and layers the model lacks, unknown suffixes', () => {
  it('refuses lora_A without lora_B and lora_B without lora_A', async () => {
    await refused(await adapter({ tensors: (t) => t.filter((x) => x.name !== `${Q0}.lora_B.weight`) }), `${Q0}.lora_B.weight`, /is missing, but ".*q_proj\.lora_A\.weight" is there/);
    await refused(await adapter({ tensors: (t) => t.filter((x) => x.name !== `${Q0}.lora_A.weight`) }), `${Q0}.lora_A.weight`, /is missing/);
  });

  it('refuses tensors for layers and modules the model lacks', async () => {
    const layer5 = (t: TensorToWrite[]) => [...t, f32('base_model.model.model.layers.5.self_attn.q_proj.lora_A.weight', [4, 32])];
    await refused(await adapter({ tensors: layer5 }), 'base_model.model.model.layers.5.self_attn.q_proj.lora_A.weight', /adapts layer 5, but this LlamaForCausalLM has 2 layers/);
    const cAttn = (t: TensorToWrite[]) => [...t, f32('base_model.model.model.layers.0.attn.c_attn.lora_A.weight', [4, 32])];
    await refused(await adapter({ tensors: cAttn }), 'base_model.model.model.layers.0.attn.c_attn.lora_A.weight', /targets "model\.layers\.0\.attn\.c_attn", which this LlamaForCausalLM does not have/);
  });

  it.each([
    ['DoRA magnitudes', `${Q0}.lora_magnitude_vector`, [32], /DoRA magnitude vector \(lora_magnitude_vector\)/],
    ['embedding LoRA', 'base_model.model.model.embed_tokens.lora_embedding_A', [4, 404], /embedding LoRA factor \(lora_embedding_A\/B\)/],
    ['a LoRA bias', `${Q0}.lora_B.bias`, [32], /LoRA bias \(lora_bias\)/],
    ['a trained base bias', `${Q0}.bias`, [32], /trained bias of the base model \("bias": "all" or "lora_only"/],
    ['a modules_to_save copy', 'base_model.model.lm_head.weight', [404, 32], /full copy of the module "lm_head" \(peft's modules_to_save\)/],
    ['trainable tokens', 'base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta', [2, 32], /trainable token embeddings/],
    ['an unknown LoRA suffix', `${Q0}.lora_E.weight`, [4, 1], /LoRA suffix tabtune does not know/],
    ['an unknown key', 'foo', [1], /is not a LoRA tensor tabtune knows/],
  ])('refuses %s, naming the feature', async (_, name, shape, message) => {
    await refused(await adapter({ tensors: (t) => [...t, f32(name, shape)] }), name, new RegExp(`adapter_model\\.safetensors: tensor "${name.replace(/\./g, '\\.')}" `), message);
  });

  it('refuses LoRA on lm_head even when the config targets it', async () => {
    const files = await adapter({
      config: { target_modules: [...LINEAR_MODULES, 'lm_head'] },
      tensors: (t) => [...t, f32('base_model.model.lm_head.lora_A.weight', [4, 32]), f32('base_model.model.lm_head.lora_B.weight', [404, 4])],
    });
    await refused(files, 'base_model.model.lm_head.lora_A.weight', /LoRA on lm_head/);
  });

  it('refuses a factor stored twice (with and without ".default")', async () => {
    const dup = (t: TensorToWrite[]) => [...t, { ...t.find((x) => x.name === `${Q0}.lora_A.weight`)!, name: `${Q0}.lora_A.default.weight` }];
    await refused(await adapter({ tensors: dup }), `${Q0}.lora_A.default.weight`, /a second time/);
  });

  it('refuses wrong dtypes, shapes and non-finite values', async () => {
    const retype = (t: TensorToWrite[]) => t.map((x) => (x.name === `${Q0}.lora_A.weight` ? { ...x, dtype: 'I32' as const } : x));
    await refused(await adapter({ tensors: retype }), `${Q0}.lora_A.weight`, /has dtype I32; supported: F32, F16, BF16/);
    const threeD = (t: TensorToWrite[]) => t.map((x) => (x.name === `${Q0}.lora_A.weight` ? { ...x, shape: [1, 4, 32] } : x));
    await refused(await adapter({ tensors: threeD }), `${Q0}.lora_A.weight`, /has shape \[1, 4, 32\], but the base model needs \[r, 32\]/);
    const nan = (t: TensorToWrite[]) => t.map((x) => (x.name === `${Q0}.lora_B.weight` ? f32(x.name, [32, 4], NaN) : x));
    await refused(await adapter({ tensors: nan }), `${Q0}.lora_B.weight`, /holds NaN at element 0; an adapter must hold finite numbers/);
    const inf = (t: TensorToWrite[]) => t.map((x) => (x.name === `${Q0}.lora_A.weight` ? f32(x.name, [4, 32], -Infinity) : x));
    await refused(await adapter({ tensors: inf }), `${Q0}.lora_A.weight`, /holds -Infinity/);
  });

  it('refuses an empty weights file and a folder with only adapter_model.bin', async () => {
    await refused(await adapter({ tensors: () => [] }), '', /adapter_model\.safetensors: holds no LoRA tensors/);
    const files = await adapter();
    files.delete('adapter_model.safetensors');
    files.set('adapter_model.bin', new Uint8Array(8));
    await refused(files, 'adapter_model.safetensors', /^my-adapter: has no adapter_model\.safetensors; .*adapter_model\.bin, a pickle/);
  });
});

describe('adapter_config.json fields', () => {
  it.each([
    [{ r: undefined }, 'r', /field "r" is missing/],
    [{ r: 4.5 }, 'r', /field "r" must be a positive integer, got 4\.5/],
    [{ r: '4' }, 'r', /field "r" must be a positive integer, got "4"/],
    [{ r: -4 }, 'r', /got -4/],
    [{ lora_alpha: undefined }, 'lora_alpha', /field "lora_alpha" is missing/],
    [{ lora_alpha: '16' }, 'lora_alpha', /field "lora_alpha" must be a number, got "16"/],
    [{ lora_alpha: 0 }, 'lora_alpha', /must be a positive finite number, got 0/],
    [{ lora_dropout: 2 }, 'lora_dropout', /must be a number in \[0, 1\), got 2/],
    [{ use_rslora: 'yes' }, 'use_rslora', /must be true or false/],
    [{ alpha_pattern: { q_proj: null } }, 'alpha_pattern', /maps "q_proj" to null; an alpha must be a positive finite number/],
    [{ rank_pattern: { q_proj: 'x' } }, 'rank_pattern', /maps "q_proj" to "x"; a rank must be a positive integer/],
    [{ rank_pattern: { '(q_proj': 4 } }, 'rank_pattern', /"\(q_proj", which is not a valid regular expression/],
    [{ rank_pattern: [4] }, 'rank_pattern', /must be an object/],
    [{ use_dora: true }, 'use_dora', /DoRA adapters are not supported/],
    [{ bias: 'all' }, 'bias', /field "bias" is "all"; .*trains the base model's biases/],
    [{ bias: 'lora_only' }, 'bias', /"lora_only"/],
    [{ lora_bias: true }, 'lora_bias', /LoRA biases/],
    [{ fan_in_fan_out: true }, 'fan_in_fan_out', /nn\.Linear/],
    [{ modules_to_save: ['lm_head'] }, 'modules_to_save', /modules_to_save/],
    [{ layer_replication: [[0, 1]] }, 'layer_replication', /replicated layers/],
    [{ task_type: 'SEQ_CLS' }, 'task_type', /"SEQ_CLS"; .*CAUSAL_LM/],
    [{ peft_type: 'PREFIX_TUNING' }, 'peft_type', /only LORA/],
    [{ target_parameters: ['experts.gate_up_proj'] }, 'target_parameters', /bare parameters/],
    [{ trainable_token_indices: [1, 2] }, 'trainable_token_indices', /trainable token/],
    [{ use_qalora: true }, 'use_qalora', /QA-LoRA/],
    [{ alora_invocation_tokens: [5] }, 'alora_invocation_tokens', /aLoRA/],
  ])('refuses %j, naming adapter_config.json and the field', async (config, key, message) => {
    await refused(await adapter({ config }), key, new RegExp(`^my-adapter/adapter_config\\.json: field "${key}" `), message);
  });

  it('refuses a config that is not a JSON object, or holds Python\'s NaN / Infinity', async () => {
    const files = await adapter();
    files.set('adapter_config.json', new TextEncoder().encode('[1, 2]'));
    await refused(files, '', /adapter_config\.json: must hold a JSON object/);
    const text = new TextDecoder().decode((await adapter()).get('adapter_config.json')!).replace(/"lora_alpha":8/, '"lora_alpha": NaN');
    files.set('adapter_config.json', new TextEncoder().encode(text));
    await refused(files, '', /adapter_config\.json: is not valid JSON .*NaN, which is not a JSON number/);
    files.set('adapter_config.json', new TextEncoder().encode(text.replace('NaN', '1e999')));
    await refused(files, 'lora_alpha', /field "lora_alpha" must be a positive finite number, got Infinity/);
  });

  it('accepts the fields peft writes with their defaults, and unknown newer fields', async () => {
    const files = await adapter({
      config: { task_type: null, peft_type: undefined, bias: null, modules_to_save: [], exclude_modules: null, target_parameters: null, use_dora: false, lora_bias: false, eva_config: null, corda_config: null, use_rslora: null },
    });
    expect((await load(files)).weights.modules.size).toBe(14);
  });

  it('refuses a config that selects only modules tabtune cannot adapt', async () => {
    const only = parseTargets('q_proj');
    const files = await adapter({ targets: only, config: { target_modules: ['lm_head'] } });
    await refused(files, 'target_modules', /selects no linear layer tabtune can adapt/);
  });
});
