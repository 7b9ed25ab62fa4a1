// Reads a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors), checking it
// against the base model so a mismatched adapter fails with the file and tensor named, and never
// half-loads.
// Dimension key: r = rank, in/out = the layer's features.   lora_A: [r, in]   lora_B: [out, r]

import type { LoraModuleWeights, LoraWeights } from '../lora/adapter.ts';
import { loraScaling } from '../lora/adapter.ts';
import type { ModelConfig } from '../model/config.ts';
import { LINEAR_MODULES, linearName, linearShape, type LinearModule } from '../model/params.ts';
import { type ModelFiles, readText } from './byte-source.ts';
import { toFloat32, type FloatDtype } from './dtype.ts';
import { FormatError, TensorError } from './errors.ts';
import { readSafetensorsHeader } from './safetensors.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

export interface PeftAdapterConfig {
  r: number;
  loraAlpha: number;
  useRslora: boolean;
  loraDropout: number;
  targetModules: string[] | string;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  baseModelNameOrPath: string | null;
}

/** PEFT's rule: a pattern key matches a module whose name is the key or ends with "." + key. */
function patternValue(patterns: Record<string, number>, module: string): number | undefined {
  for (const [key, value] of Object.entries(patterns)) {
    if (new RegExp(`(^|\\.)${key}$`).test(module)) return value;
  }
  return undefined;
}

export function parsePeftConfig(text: string, file: string): PeftAdapterConfig {
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new FormatError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if ((c.peft_type ?? 'LORA') !== 'LORA') throw new FormatError(file, `field "peft_type" is ${JSON.stringify(c.peft_type)}; only LORA adapters are supported`);
  if (c.use_dora === true) throw new FormatError(file, 'field "use_dora" is true; DoRA adapters are not supported');
  if (Array.isArray(c.modules_to_save) && c.modules_to_save.length > 0) {
    throw new FormatError(file, `field "modules_to_save" lists ${JSON.stringify(c.modules_to_save)}; fully trained extra modules are not supported`);
  }
  if (c.fan_in_fan_out === true) throw new FormatError(file, 'field "fan_in_fan_out" is true; only nn.Linear-style [out, in] weights are supported');
  if (c.lora_bias === true) throw new FormatError(file, 'field "lora_bias" is true; LoRA biases are not supported');
  if (c.layer_replication !== undefined && c.layer_replication !== null) {
    throw new FormatError(file, 'field "layer_replication" is set; replicated layers are not supported');
  }
  const r = c.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0) throw new FormatError(file, `field "r" must be a positive integer, got ${JSON.stringify(r)}`);
  const alpha = c.lora_alpha ?? 8;
  if (typeof alpha !== 'number') throw new FormatError(file, `field "lora_alpha" must be a number, got ${JSON.stringify(alpha)}`);
  return {
    r,
    loraAlpha: alpha,
    useRslora: c.use_rslora === true,
    loraDropout: typeof c.lora_dropout === 'number' ? c.lora_dropout : 0,
    targetModules: (c.target_modules as string[] | string | undefined) ?? [],
    rankPattern: (c.rank_pattern as Record<string, number> | undefined) ?? {},
    alphaPattern: (c.alpha_pattern as Record<string, number> | undefined) ?? {},
    baseModelNameOrPath: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : null,
  };
}

const KEY = /^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/;

function moduleTable(cfg: ModelConfig): Map<string, { module: LinearModule; shape: [number, number] }> {
  const t = new Map<string, { module: LinearModule; shape: [number, number] }>();
  for (let l = 0; l < cfg.numLayers; l++) {
    for (const m of LINEAR_MODULES) t.set(linearName(l, m), { module: m, shape: linearShape(cfg, m) });
  }
  return t;
}

export async function readPeftAdapter(files: ModelFiles, cfg: ModelConfig): Promise<{ config: PeftAdapterConfig; weights: LoraWeights }> {
  const cfgSrc = await files.get(ADAPTER_CONFIG);
  if (!cfgSrc) throw new FormatError(files.name, `has no ${ADAPTER_CONFIG}; a PEFT adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}`);
  const config = parsePeftConfig(await readText(cfgSrc), cfgSrc.name);
  const src = await files.get(ADAPTER_WEIGHTS);
  if (!src) throw new FormatError(files.name, `has no ${ADAPTER_WEIGHTS}; a PEFT adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}`);
  const header = await readSafetensorsHeader(src);
  const table = moduleTable(cfg);
  const parts = new Map<string, { a?: Float32Array; b?: Float32Array; rank?: number }>();

  for (const info of header.tensors.values()) {
    const m = KEY.exec(info.name);
    if (!m) throw new TensorError(src.name, info.name, 'is not a LoRA tensor (expected base_model.model.<module>.lora_A.weight / lora_B.weight)');
    const [, module, which] = m as unknown as [string, string, 'A' | 'B'];
    const target = table.get(module);
    if (!target) throw new TensorError(src.name, info.name, `targets "${module}", which this ${cfg.hfArchitecture} does not have; the adapter was made for another base model`);
    if (!['F32', 'F16', 'BF16'].includes(info.dtype)) throw new TensorError(src.name, info.name, `has dtype ${info.dtype}; supported: F32, F16, BF16`);
    const [out, inp] = target.shape;
    const [d0, d1] = info.shape;
    const rank = which === 'A' ? d0 : d1;
    const ok = info.shape.length === 2 && (which === 'A' ? d1 === inp : d0 === out);
    if (!ok || !rank) {
      const want = which === 'A' ? `[r, ${inp}]` : `[${out}, r]`;
      throw new TensorError(src.name, info.name, `has shape [${info.shape.join(', ')}], but the base model needs ${want}; the adapter was made for another base model`);
    }
    const entry = parts.get(module) ?? {};
    if (entry.rank !== undefined && entry.rank !== rank) throw new TensorError(src.name, info.name, `has rank ${rank}, but its other factor has rank ${entry.rank}`);
    entry.rank = rank;
    entry[which === 'A' ? 'a' : 'b'] = toFloat32(info.dtype as FloatDtype, await src.read(info.byteOffset, info.byteLength));
    parts.set(module, entry);
  }

  const modules = new Map<string, LoraModuleWeights>();
  for (const [module, p] of parts) {
    if (!p.a || !p.b) throw new TensorError(src.name, `base_model.model.${module}.lora_${p.a ? 'B' : 'A'}.weight`, 'is missing (each module needs both lora_A and lora_B)');
    const [out, inp] = table.get(module)!.shape;
    const alpha = patternValue(config.alphaPattern, module) ?? config.loraAlpha;
    modules.set(module, { rank: p.rank!, inFeatures: inp, outFeatures: out, scaling: loraScaling(alpha, p.rank!, config.useRslora), a: p.a, b: p.b });
  }
  if (modules.size === 0) throw new FormatError(src.name, 'holds no LoRA tensors');
  return { config, weights: { modules } };
}
