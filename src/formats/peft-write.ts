// Writes a LoRA adapter as a PEFT folder (adapter_config.json + adapter_model.safetensors) that
// Hugging Face peft loads, and that readPeftAdapter reads back.
// Dimension key: r = rank, in/out = the layer's features.   lora_A: [r, in]   lora_B: [out, r]

import type { LoraConfig } from '../lora/config.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import { fromFloat32, type FloatDtype } from './dtype.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from './peft.ts';
import { type TensorToWrite, writeSafetensors } from './safetensors-write.ts';

/**
 * target_modules (and layers_to_transform) as peft should select them. Under a vision-language
 * model's text root a list of names would also catch the vision tower's q_proj/v_proj, so the
 * selection is one regular expression over the text model's full module names instead. Also what
 * an axolotl recipe asks peft for (lora_target_modules, peft_layers_to_transform).
 */
export function targetSelection(lc: LoraConfig, textRoot: string): { target_modules: string[] | string; layers_to_transform: number[] | null } {
  if (textRoot === 'model') return { target_modules: [...lc.targets], layers_to_transform: lc.layers };
  const esc = (s: string) => s.replace(/\./g, '\\.');
  const layers = lc.layers ? `(?:${lc.layers.join('|')})` : '\\d+';
  return { target_modules: `${esc(textRoot)}\\.layers\\.${layers}\\.(?:self_attn|mlp)\\.(?:${lc.targets.join('|')})`, layers_to_transform: null };
}

/** Only keys that every peft version since 0.10 accepts (older ones reject unknown keys). */
export function peftConfigJson(lc: LoraConfig, baseModel: string, textRoot = 'model'): string {
  const selection = targetSelection(lc, textRoot);
  const config = {
    alpha_pattern: lc.alphaPattern ?? {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: lc.init === 'gaussian' ? 'gaussian' : true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: selection.layers_to_transform,
    loftq_config: {},
    lora_alpha: lc.alpha,
    lora_dropout: lc.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: lc.rank,
    rank_pattern: lc.rankPattern ?? {},
    revision: null,
    target_modules: selection.target_modules,
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: lc.rslora,
  };
  return JSON.stringify(config, null, 2) + '\n';
}

/**
 * `textRoot`: where peft finds the text model in the base (peftTextRoot: "model", or
 * "model.language_model" in Gemma3ForConditionalGeneration); module names are written under it.
 */
export function peftAdapterFiles(lc: LoraConfig, weights: LoraWeights, baseModel: string, dtype: FloatDtype = 'F32', textRoot = 'model'): Map<string, Uint8Array> {
  const tensors: TensorToWrite[] = [];
  for (const [internal, m] of weights.modules) {
    const name = textRoot === 'model' ? internal : `${textRoot}${internal.slice('model'.length)}`;
    tensors.push({ name: `base_model.model.${name}.lora_A.weight`, dtype, shape: [m.rank, m.inFeatures], data: fromFloat32(dtype, m.a) });
    tensors.push({ name: `base_model.model.${name}.lora_B.weight`, dtype, shape: [m.outFeatures, m.rank], data: fromFloat32(dtype, m.b) });
  }
  return new Map([
    [ADAPTER_CONFIG, new TextEncoder().encode(peftConfigJson(lc, baseModel, textRoot))],
    [ADAPTER_WEIGHTS, writeSafetensors(tensors, { format: 'pt' })],
  ]);
}
