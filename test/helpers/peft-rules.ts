// A PEFT adapter loader written to the rules in FORMATS.md, independent of tabtune's own reader:
// it checks what Hugging Face peft needs to load the folder, and returns the tensors it holds.

import { bytesSource } from '../../src/formats/byte-source.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';

/** Keys every peft version since 0.10 accepts; peft before 0.14 rejects anything else. */
export const PEFT_KEYS = new Set([
  'alpha_pattern', 'auto_mapping', 'base_model_name_or_path', 'bias', 'fan_in_fan_out', 'inference_mode',
  'init_lora_weights', 'layer_replication', 'layers_pattern', 'layers_to_transform', 'loftq_config', 'lora_alpha',
  'lora_dropout', 'megatron_config', 'megatron_core', 'modules_to_save', 'peft_type', 'r', 'rank_pattern',
  'revision', 'target_modules', 'task_type', 'use_dora', 'use_rslora',
]);

const ITEM = { F32: 4, F16: 2, BF16: 2 } as Record<string, number>;

export async function loadPeftByTheRules(configJson: string, weights: Uint8Array): Promise<Map<string, { dtype: string; shape: number[]; data: Uint8Array }>> {
  const config = JSON.parse(configJson) as Record<string, unknown>;
  const unknown = Object.keys(config).filter((k) => !PEFT_KEYS.has(k));
  if (unknown.length) throw new Error(`adapter_config.json has keys older peft rejects: ${unknown.join(', ')}`);
  if (config.peft_type !== 'LORA') throw new Error('peft_type must be LORA');
  if (config.task_type !== 'CAUSAL_LM') throw new Error('task_type must be CAUSAL_LM');
  const r = config.r as number;
  if (!Number.isInteger(r) || r < 1) throw new Error('r must be a positive integer');
  if (typeof config.lora_alpha !== 'number') throw new Error('lora_alpha must be a number');
  if (!Array.isArray(config.target_modules) && typeof config.target_modules !== 'string') throw new Error('target_modules missing');
  if (typeof config.base_model_name_or_path !== 'string' || !config.base_model_name_or_path) throw new Error('base_model_name_or_path missing');

  // The reference reader's checks (offsets contiguous from 0, sizes per dtype, no trailing bytes)
  // are those of readSafetensorsHeader; on top: header padded to 8, metadata format pt.
  const headerLength = Number(new DataView(weights.buffer, weights.byteOffset).getBigUint64(0, true));
  if (headerLength % 8 !== 0) throw new Error(`safetensors header of ${headerLength} bytes is not padded to a multiple of 8`);
  const header = await readSafetensorsHeader(bytesSource('adapter_model.safetensors', weights));
  if (header.metadata.format !== 'pt') throw new Error('safetensors metadata must hold {"format": "pt"}');
  const out = new Map<string, { dtype: string; shape: number[]; data: Uint8Array }>();
  let expectedOffset = 8 + headerLength;
  for (const t of header.tensors.values()) {
    // The text model's modules: under model (a causal LM) or model.language_model (a vision-language model).
    const m = /^base_model\.model\.model\.(?:language_model\.)?layers\.\d+\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.lora_[AB]\.weight$/.exec(t.name);
    if (!m) throw new Error(`tensor key ${t.name} is not base_model.model.<module>.lora_A/B.weight`);
    if (!(t.dtype in ITEM)) throw new Error(`${t.name}: dtype ${t.dtype}`);
    if (t.byteOffset !== expectedOffset) throw new Error(`${t.name}: not contiguous`);
    expectedOffset += t.byteLength;
    const isA = t.name.endsWith('lora_A.weight');
    if (t.shape.length !== 2) throw new Error(`${t.name}: not 2-D`);
    if (isA && t.shape[0]! < 1) throw new Error(`${t.name}: A must be [r, in]`);
    out.set(t.name, { dtype: t.dtype, shape: t.shape, data: weights.slice(t.byteOffset, t.byteOffset + t.byteLength) });
  }
  if (expectedOffset !== weights.byteLength) throw new Error('trailing bytes after the last tensor');
  for (const [name, t] of out) {
    if (!name.endsWith('lora_A.weight')) continue;
    const b = out.get(name.replace('lora_A', 'lora_B'));
    if (!b) throw new Error(`${name} has no lora_B`);
    if (b.shape[1] !== t.shape[0]) throw new Error(`${name}: A is [${t.shape}] but B is [${b.shape}]`);
  }
  return out;
}
