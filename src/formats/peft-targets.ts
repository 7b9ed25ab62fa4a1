// Which modules of the base model an adapter_config.json selects, by peft's own rules
// (tuners_utils.check_target_module_exists, utils.other.get_pattern_key), and the rank and alpha each
// gets. A target that selects nothing, or selects a module LoRA cannot wrap, is refused here, as
// peft refuses it when it injects the adapter ("Target modules ... not found in the base model").

import { isVisionLanguage } from './checkpoint.ts';
import type { ModelConfig } from '../model/config.ts';
import { LINEAR_MODULES, linearName, linearShape, type LinearModule } from '../model/params.ts';
import { AdapterError } from './errors.ts';
import type { PeftAdapterConfig } from './peft-config.ts';

/** A module of the transformers model, by its name in model.named_modules(). */
export interface ModelModule {
  name: string;
  /** linear: q..down_proj, which tabtune adapts; head: lm_head; embedding: embed_tokens; other: containers, norms. */
  kind: 'linear' | 'head' | 'embedding' | 'other';
  module?: LinearModule;
  shape?: [number, number];
}

/**
 * Where peft finds the text model's modules: "model" in a causal LM, "model.language_model" in
 * Gemma3ForConditionalGeneration (transformers >= 4.52 builds it there whatever names its file uses).
 */
export function peftTextRoot(cfg: Pick<ModelConfig, 'hfArchitecture'>): string {
  return isVisionLanguage(cfg) ? 'model.language_model' : 'model';
}

/** A module's name as peft sees it ("model.layers.0.self_attn.q_proj" under the text root). */
export function peftModuleName(cfg: Pick<ModelConfig, 'hfArchitecture'>, internal: string): string {
  const root = peftTextRoot(cfg);
  return root === 'model' || !internal.startsWith('model.') ? internal : `${root}${internal.slice('model'.length)}`;
}

/** tabtune's name of a module peft names (the inverse of peftModuleName), or null when it is outside the text model. */
export function internalModuleName(cfg: Pick<ModelConfig, 'hfArchitecture'>, peft: string): string | null {
  const root = peftTextRoot(cfg);
  if (root === 'model') return peft;
  return peft.startsWith(`${root}.`) ? `model${peft.slice(root.length)}` : null;
}

/** Every named module of a Llama-family or Gemma 3 causal LM, as transformers builds it, named as peft sees them. */
export function modelModules(cfg: ModelConfig): ModelModule[] {
  const text = textModelModules(cfg).map((m) => ({ ...m, name: peftModuleName(cfg, m.name) }));
  // A vision-language model holds the text model, the vision tower and the projector under "model".
  if (peftTextRoot(cfg) !== 'model') {
    text.unshift({ name: 'model', kind: 'other' }, { name: 'model.vision_tower', kind: 'other' }, { name: 'model.multi_modal_projector', kind: 'other' });
  }
  return text;
}

function textModelModules(cfg: ModelConfig): ModelModule[] {
  const out: ModelModule[] = [{ name: 'model', kind: 'other' }, { name: 'model.embed_tokens', kind: 'embedding' }, { name: 'model.layers', kind: 'other' }];
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}`;
    out.push({ name: p, kind: 'other' }, { name: `${p}.self_attn`, kind: 'other' });
    for (const m of LINEAR_MODULES.slice(0, 4)) out.push({ name: linearName(l, m), kind: 'linear', module: m, shape: linearShape(cfg, m) });
    if (cfg.qkNorm) out.push({ name: `${p}.self_attn.q_norm`, kind: 'other' }, { name: `${p}.self_attn.k_norm`, kind: 'other' });
    out.push({ name: `${p}.mlp`, kind: 'other' });
    for (const m of LINEAR_MODULES.slice(4)) out.push({ name: linearName(l, m), kind: 'linear', module: m, shape: linearShape(cfg, m) });
    out.push({ name: `${p}.mlp.act_fn`, kind: 'other' }, { name: `${p}.input_layernorm`, kind: 'other' }, { name: `${p}.post_attention_layernorm`, kind: 'other' });
    if (cfg.sandwichNorms) out.push({ name: `${p}.pre_feedforward_layernorm`, kind: 'other' }, { name: `${p}.post_feedforward_layernorm`, kind: 'other' });
  }
  out.push({ name: 'model.norm', kind: 'other' }, { name: 'model.rotary_emb', kind: 'other' });
  // Gemma 3's sliding layers have their own rotary embedding (rope_local_base_freq).
  if (cfg.localRope) out.push({ name: 'model.rotary_emb_local', kind: 'other' });
  out.push({ name: 'lm_head', kind: 'head' });
  return out;
}

/** A Python `re` pattern as a JS RegExp: named groups and \A / \Z translated. Throws SyntaxError when invalid. */
export function pythonRegex(pattern: string, anchor: 'full' | 'suffix' | 'none' = 'none'): RegExp {
  const js = pattern
    .replace(/\(\?P</g, '(?<')
    .replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
    .replace(/\\A/g, '^')
    .replace(/\\Z/g, '$');
  if (anchor === 'full') return new RegExp(`^(?:${js})$`);
  // get_pattern_key: re.match(rf"(.*\.)?({key})$", name)
  if (anchor === 'suffix') return new RegExp(`^(?:.*\\.)?(?:${js})$`);
  return new RegExp(js);
}

/** The pattern key peft picks for a module (the first that matches), or undefined. */
export function patternKey(patterns: Record<string, number>, module: string): string | undefined {
  return Object.keys(patterns).find((key) => pythonRegex(key, 'suffix').test(module));
}

export interface TargetedModule {
  module: LinearModule;
  shape: [number, number]; // [out, in]
  rank: number;
  alpha: number;
  /** Why this rank: "r" or `rank_pattern["q_proj"]`. */
  rankFrom: string;
}

const ADAPTABLE = LINEAR_MODULES.join(', ');

function describeTargets(c: PeftAdapterConfig): string {
  const t = c.targetModulesDefaulted ? `absent, so peft's default ${JSON.stringify(c.targetModules)}` : JSON.stringify(c.targetModules);
  const layers = c.layersToTransform ? `, "layers_to_transform" ${JSON.stringify(c.layersToTransform)}` : '';
  const excl = c.excludeModules ? `, "exclude_modules" ${JSON.stringify(c.excludeModules)}` : '';
  return `"target_modules" ${t}${layers}${excl}`;
}

/** peft's layer index of a module name: the number after layers_pattern, or after the first dotted segment. */
function layerIndex(name: string, patterns: string[] | null): number | null {
  const res = patterns && patterns.length > 0 ? patterns.map((p) => pythonRegex(`^.*?\\.${p}\\.(\\d+)\\.`)) : [/^.*?\.[^.]*\.(\d+)\./];
  for (const re of res) {
    const m = re.exec(name);
    if (m) return Number(m[1]);
  }
  return null;
}

function excluded(c: PeftAdapterConfig, name: string): boolean {
  const ex = c.excludeModules;
  if (!ex) return false;
  if (typeof ex === 'string') return pythonRegex(ex, 'full').test(name);
  return ex.some((e) => name === e || name.endsWith(`.${e}`));
}

/** check_target_module_exists for one list entry (or the whole regex / all-linear string). */
function entryMatches(c: PeftAdapterConfig, entry: string | null, m: ModelModule): boolean {
  const t = c.targetModules;
  if (typeof t === 'string') {
    if (t === 'all-linear') return m.kind === 'linear';
    return pythonRegex(t, 'full').test(m.name);
  }
  const e = entry!;
  if (m.name === e) return true;
  if (!m.name.endsWith(`.${e}`)) return false;
  if (!c.layersToTransform) return true;
  const l = layerIndex(m.name, c.layersPattern);
  return l !== null && c.layersToTransform.includes(l);
}

/**
 * The linear modules the config adapts, by full name, with each one's rank and alpha. Refuses, naming
 * adapter_config.json and the field: layers the model lacks, a layers_pattern that finds no layer, a
 * target that matches no module of the model, a target that selects a module LoRA cannot wrap, and a
 * config that adapts no linear layer at all.
 */
export function targetedModules(c: PeftAdapterConfig, cfg: ModelConfig, file: string): Map<string, TargetedModule> {
  const fail = (field: string, detail: string): never => {
    throw new AdapterError(file, field, `field "${field}" ${detail}`);
  };
  const modules = modelModules(cfg);
  const arch = cfg.hfArchitecture;

  for (const l of c.layersToTransform ?? []) {
    if (l >= cfg.numLayers) {
      fail('layers_to_transform', `lists layer ${l}, but this ${arch} has ${cfg.numLayers} layers (0 .. ${cfg.numLayers - 1}); the adapter was made for another base model`);
    }
  }
  if (c.layersToTransform && c.layersPattern && c.layersPattern.length > 0) {
    const linear = modules.filter((m) => m.kind === 'linear');
    if (!linear.some((m) => layerIndex(m.name, c.layersPattern) !== null)) {
      fail('layers_pattern', `is ${JSON.stringify(c.layersPattern)}, which finds no layer index in this model's module names (they read ${peftTextRoot(cfg)}.layers.N....; use "layers"), so peft would find no target module`);
    }
  }

  const entries = typeof c.targetModules === 'string' ? [null] : c.targetModules;
  const selected = new Map<string, ModelModule>();
  for (const entry of entries) {
    const hits = modules.filter((m) => entryMatches(c, entry, m));
    if (hits.length === 0) {
      const what = entry === null ? `the regular expression ${JSON.stringify(c.targetModules)}` : `"${entry}"`;
      const also = entry !== null && c.layersToTransform && modules.some((m) => m.name.endsWith(`.${entry}`)) ? ` in the layers ${JSON.stringify(c.layersToTransform)} it selects` : '';
      const plain = entry === null && typeof c.targetModules === 'string' && /^\w+$/.test(c.targetModules) && modules.some((m) => m.name.endsWith(`.${c.targetModules as string}`));
      if (plain) {
        fail('target_modules', `is the string ${JSON.stringify(c.targetModules)}, which peft reads as a regular expression over the whole module name and which matches no module (target module not found); write a list, ["${c.targetModules as string}"], or ".*\\.${c.targetModules as string}"`);
      }
      fail(
        'target_modules',
        `names ${what}, which matches no module of this ${arch}${also} (peft: target module not found in the base model); ` +
          `its linear layers are ${ADAPTABLE}: the adapter was made for another kind of model, or its config does not belong to these tensors`,
      );
    }
    for (const m of hits) if (!excluded(c, m.name)) selected.set(m.name, m);
  }
  for (const m of selected.values()) {
    if (m.kind === 'other') {
      fail('target_modules', `${JSON.stringify(c.targetModules)} selects "${m.name}", which is not a linear layer; peft refuses to wrap it ("Target module ... is not supported"); name the linear layers (${ADAPTABLE})`);
    }
  }

  const out = new Map<string, TargetedModule>();
  for (const m of selected.values()) {
    if (m.kind !== 'linear') continue; // lm_head / embed_tokens: refused only if the adapter holds tensors for them
    const rk = patternKey(c.rankPattern, m.name);
    const ak = patternKey(c.alphaPattern, m.name);
    out.set(m.name, {
      module: m.module!,
      shape: m.shape!,
      rank: rk === undefined ? c.r : c.rankPattern[rk]!,
      alpha: ak === undefined ? c.loraAlpha : c.alphaPattern[ak]!,
      rankFrom: rk === undefined ? '"r"' : `"rank_pattern" entry ${JSON.stringify(rk)}`,
    });
  }
  if (out.size === 0) {
    fail('target_modules', `(${describeTargets(c)}) selects no linear layer tabtune can adapt; tabtune applies LoRA to ${ADAPTABLE}, not to lm_head or embed_tokens`);
  }
  return out;
}

export { describeTargets };
