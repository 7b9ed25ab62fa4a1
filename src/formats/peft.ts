// Reads a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) and checks the
// two against each other and against the base model as peft's loader does: the rank in the config
// (r, rank_pattern) against every lora_A / lora_B shape (peft: "size mismatch"), the targets
// (target_modules, layers_to_transform, exclude_modules) against the model's modules (peft: "target
// module not found") and against the tensors present, A/B partners, dtypes and finite values. Each
// refusal is one AdapterError naming the file and the field or tensor; nothing is half-loaded.
// Dimension key: r = rank, in/out = the layer's features.   lora_A: [r, in]   lora_B: [out, r]

import type { LoraModuleWeights, LoraWeights } from '../lora/adapter.ts';
import { loraScaling } from '../lora/adapter.ts';
import type { ModelConfig } from '../model/config.ts';
import { type ByteSource, type ModelFiles, readText } from './byte-source.ts';
import { toFloat32, type FloatDtype } from './dtype.ts';
import { AdapterError } from './errors.ts';
import { ADAPTER_CONFIG, parsePeftConfig, type PeftAdapterConfig } from './peft-config.ts';
import { describeTargets, internalModuleName, modelModules, peftTextRoot, targetedModules, type TargetedModule } from './peft-targets.ts';
import { readSafetensorsHeader, type StTensorInfo } from './safetensors.ts';

export { ADAPTER_CONFIG, parsePeftConfig, type PeftAdapterConfig };
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

const PREFIX = 'base_model.model.';
const LORA_KEY = /^base_model\.model\.(.+)\.lora_([AB])(\.default)?\.weight$/;
const FLOAT = new Set(['F32', 'F16', 'BF16']);

/** What a key that is not base_model.model.<module>.lora_A/B.weight stands for, in peft's terms. */
function unsupportedKey(name: string, moduleNames: Set<string>): string {
  const inner = name.startsWith(PREFIX) ? name.slice(PREFIX.length) : null;
  if (/\.lora_magnitude_vector(\.default)?(\.weight)?$/.test(name)) {
    return 'is a DoRA magnitude vector (lora_magnitude_vector); DoRA adapters (use_dora) are not supported';
  }
  if (/\.lora_embedding_[AB](\.default)?$/.test(name)) {
    return 'is an embedding LoRA factor (lora_embedding_A/B); LoRA on embed_tokens is not supported (tabtune adapts q/k/v/o/gate/up/down_proj)';
  }
  if (/\.lora_[AB](\.default)?\.bias$/.test(name)) return 'is a LoRA bias (lora_bias); adapters with LoRA biases are not supported';
  if (/\.(token_adapter|trainable_tokens_delta|trainable_tokens_original)\b/.test(name)) {
    return 'belongs to trainable token embeddings (trainable_token_indices), which are not supported';
  }
  if (/\.lora_[A-Za-z]+\b/.test(name)) return 'has a LoRA suffix tabtune does not know (expected .lora_A.weight or .lora_B.weight); it may come from another peft method';
  if (inner !== null) {
    const bias = /^(.+)\.bias$/.exec(inner);
    if (bias && moduleNames.has(bias[1]!)) {
      return 'is a trained bias of the base model ("bias": "all" or "lora_only" in peft); trained biases are not supported';
    }
    const full = /^(.+?)(\.modules_to_save\.[^.]+)?\.weight$/.exec(inner);
    if (full && moduleNames.has(full[1]!)) {
      return `is a full copy of the module "${full[1]}" (peft's modules_to_save); fully trained extra modules are not supported`;
    }
  }
  return 'is not a LoRA tensor tabtune knows (expected base_model.model.<module>.lora_A.weight / lora_B.weight)';
}

interface Part {
  info: StTensorInfo;
  target: TargetedModule;
}

/** Checks every tensor's key, module, dtype and shape against the config and the model; reads nothing. */
function planTensors(
  src: ByteSource,
  tensors: Iterable<StTensorInfo>,
  config: PeftAdapterConfig,
  cfgFile: string,
  targets: Map<string, TargetedModule>,
  cfg: ModelConfig,
): Map<string, { a?: Part; b?: Part }> {
  const file = src.name;
  const fail = (tensor: string, detail: string): never => {
    throw new AdapterError(file, tensor, `tensor "${tensor}" ${detail}`);
  };
  const all = modelModules(cfg);
  const names = new Set(all.map((m) => m.name));
  const linear = new Map(all.filter((m) => m.kind === 'linear').map((m) => [m.name, m]));
  const arch = cfg.hfArchitecture;
  const parts = new Map<string, { a?: Part; b?: Part }>();

  for (const info of tensors) {
    const key = LORA_KEY.exec(info.name);
    if (!key) fail(info.name, unsupportedKey(info.name, names));
    const [, module, which] = key as unknown as [string, string, 'A' | 'B'];
    const model = linear.get(module);
    if (!model) {
      const root = peftTextRoot(cfg);
      if (module === 'lm_head') fail(info.name, 'is LoRA on lm_head (the output head), which tabtune does not support; it adapts q/k/v/o/gate/up/down_proj');
      if (module === `${root}.embed_tokens`) fail(info.name, 'is LoRA on embed_tokens, which tabtune does not support; it adapts q/k/v/o/gate/up/down_proj');
      if (root !== 'model' && internalModuleName(cfg, module) === null) {
        fail(info.name, `adapts "${module}", outside the text model (${root}); tabtune runs and trains only the text model of a ${arch}, not its vision tower or projector`);
      }
      const layer = new RegExp(`^${root.replace(/\./g, '\\.')}\\.layers\\.(\\d+)\\.`).exec(module);
      if (layer && Number(layer[1]) >= cfg.numLayers) {
        fail(info.name, `adapts layer ${layer[1]}, but this ${arch} has ${cfg.numLayers} layers (0 .. ${cfg.numLayers - 1}); the adapter was made for another base model`);
      }
      fail(info.name, `targets "${module}", which this ${arch} does not have; the adapter was made for another base model`);
    }
    const target = targets.get(module);
    if (!target) {
      fail(info.name, `adapts "${module}", which ${cfgFile} does not target (${describeTargets(config)}); peft would not load it: the config and the weights do not belong together`);
    }
    if (!FLOAT.has(info.dtype)) fail(info.name, `has dtype ${info.dtype}; supported: F32, F16, BF16`);
    const [out, inp] = model!.shape!;
    const [d0, d1] = info.shape;
    const isA = which === 'A';
    if (info.shape.length !== 2 || (isA ? d1 !== inp : d0 !== out) || (isA ? d0 : d1) === 0) {
      fail(info.name, `has shape [${info.shape.join(', ')}], but the base model needs ${isA ? `[r, ${inp}]` : `[${out}, r]`}; the adapter was made for another base model`);
    }
    const rank = isA ? d0! : d1!;
    const r = target!.rank;
    if (rank !== r) {
      const want = isA ? `[${r}, ${inp}]` : `[${out}, ${r}]`;
      fail(
        info.name,
        `has shape [${info.shape.join(', ')}] (rank ${rank}), but ${cfgFile} sets rank ${r} for this module (${target!.rankFrom}), so peft expects ${want} and refuses it (size mismatch); ` +
          `the config and the weights do not belong together: set the rank in ${cfgFile} to ${rank} (or use the config saved with these weights)`,
      );
    }
    const entry = parts.get(module) ?? {};
    const slot = isA ? 'a' : 'b';
    if (entry[slot]) fail(info.name, `holds lora_${which} of "${module}" a second time (it is also stored as "${entry[slot].info.name}"); keep one of them`);
    entry[slot] = { info, target: target! };
    parts.set(module, entry);
  }

  for (const [module, p] of parts) {
    if (!p.a || !p.b) {
      const have = (p.a ?? p.b)!.info.name;
      fail(`${PREFIX}${module}.lora_${p.a ? 'B' : 'A'}.weight`, `is missing, but "${have}" is there; each adapted module needs both lora_A and lora_B`);
    }
  }
  if (parts.size === 0) throw new AdapterError(file, '', 'holds no LoRA tensors (base_model.model.<module>.lora_A.weight / lora_B.weight)');
  return parts;
}

async function readFactor(src: ByteSource, p: Part): Promise<Float32Array> {
  const values = toFloat32(p.info.dtype as FloatDtype, await src.read(p.info.byteOffset, p.info.byteLength));
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new AdapterError(src.name, p.info.name, `tensor "${p.info.name}" holds ${values[i]} at element ${i}; an adapter must hold finite numbers (was it saved after training diverged?)`);
    }
  }
  return values;
}

export async function readPeftAdapter(files: ModelFiles, cfg: ModelConfig): Promise<{ config: PeftAdapterConfig; weights: LoraWeights }> {
  const cfgSrc = await files.get(ADAPTER_CONFIG);
  if (!cfgSrc) {
    const model = (await files.get('config.json')) !== null;
    const why = model ? '; it holds config.json, so it is a model folder, not an adapter (give the folder with adapter_config.json)' : '';
    throw new AdapterError(files.name, ADAPTER_CONFIG, `has no ${ADAPTER_CONFIG}; a PEFT adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}${why}`);
  }
  const config = parsePeftConfig(await readText(cfgSrc), cfgSrc.name);
  const targets = targetedModules(config, cfg, cfgSrc.name);
  const src = await files.get(ADAPTER_WEIGHTS);
  if (!src) {
    const bin = await files.get('adapter_model.bin');
    const why = bin ? `; it has adapter_model.bin, a pickle tabtune does not read: convert it with peft (save_pretrained(..., safe_serialization=True))` : '';
    throw new AdapterError(files.name, ADAPTER_WEIGHTS, `has no ${ADAPTER_WEIGHTS}; a PEFT adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}${why}`);
  }
  const header = await readSafetensorsHeader(src);
  const cfgName = cfgSrc.name.slice(cfgSrc.name.lastIndexOf('/') + 1);
  const parts = planTensors(src, header.tensors.values(), config, cfgName, targets, cfg);

  const modules = new Map<string, LoraModuleWeights>();
  for (const [peftName, p] of parts) {
    const module = internalModuleName(cfg, peftName)!;
    const { a, b } = p as Required<typeof p>;
    const t = a.target;
    const [out, inp] = t.shape;
    modules.set(module, {
      rank: t.rank,
      inFeatures: inp,
      outFeatures: out,
      scaling: loraScaling(t.alpha, t.rank, config.useRslora),
      a: await readFactor(src, a),
      b: await readFactor(src, b),
    });
  }
  return { config, weights: { modules } };
}
