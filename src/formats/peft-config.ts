// Reads adapter_config.json the way Hugging Face peft's LoraConfig does, refusing what peft refuses
// (LoraConfig.__post_init__) and what tabtune cannot apply (DoRA, trained biases, modules_to_save, ...),
// each with the field named. Nothing here knows the base model: peft-targets.ts checks that.

import { AdapterError } from './errors.ts';
import { pythonRegex } from './peft-targets.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';

export interface PeftAdapterConfig {
  r: number;
  loraAlpha: number;
  useRslora: boolean;
  loraDropout: number;
  /** As written (a list of names / suffixes, or a regex, or "all-linear"); peft's default for Llama-family models when absent. */
  targetModules: string[] | string;
  /** target_modules was absent or null: peft then uses its default for the model type (q_proj, v_proj). */
  targetModulesDefaulted: boolean;
  excludeModules: string[] | string | null;
  /** Layer indices (peft's layers_to_transform); null = every layer. */
  layersToTransform: number[] | null;
  layersPattern: string[] | null;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  baseModelNameOrPath: string | null;
  init: 'default' | 'gaussian';
}

/** peft's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for llama, mistral, qwen2, qwen3, gemma3_text and gemma3. */
export const PEFT_DEFAULT_TARGETS = ['q_proj', 'v_proj'];

type Json = Record<string, unknown>;

const show = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));
const absent = (v: unknown): boolean => v === undefined || v === null;

function fail(file: string, field: string, detail: string): never {
  throw new AdapterError(file, field, `field "${field}" ${detail}`);
}

function parseJson(text: string, file: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // Python's json module writes NaN and Infinity, which are not JSON.
    const py = /:\s*-?(NaN|Infinity)\b/.exec(text);
    const hint = py ? `; it holds ${py[1]}, which is not a JSON number: a field such as lora_alpha is not a finite number, fix it in the file` : '';
    throw new AdapterError(file, '', `is not valid JSON (${(e as Error).message})${hint}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AdapterError(file, '', `must hold a JSON object (peft's LoraConfig as save_pretrained writes it), got ${Array.isArray(value) ? 'a list' : show(value)}`);
  }
  return value as Json;
}

function bool(file: string, c: Json, field: string): boolean {
  const v = c[field];
  if (absent(v)) return false;
  if (typeof v !== 'boolean') fail(file, field, `must be true or false, got ${show(v)}`);
  return v;
}

function compiles(file: string, field: string, pattern: string, what: string): void {
  try {
    pythonRegex(pattern);
  } catch (e) {
    fail(file, field, `holds ${what} ${JSON.stringify(pattern)}, which is not a valid regular expression (${(e as Error).message})`);
  }
}

function stringList(file: string, c: Json, field: string, regexIfString: boolean): string[] | string | null {
  const v = c[field];
  if (absent(v)) return null;
  if (typeof v === 'string') {
    if (v === '') fail(file, field, 'is an empty string; give a list of module names or a regular expression');
    if (regexIfString && v !== 'all-linear') compiles(file, field, v, 'the regular expression');
    return v;
  }
  if (!Array.isArray(v)) fail(file, field, `must be a list of module names or a regular expression string, got ${show(v)}`);
  for (const x of v as unknown[]) {
    if (typeof x !== 'string' || x === '') fail(file, field, `must list module names (non-empty strings), but holds ${show(x)}`);
  }
  return [...new Set(v as string[])];
}

function patternMap(file: string, c: Json, field: string, check: (v: unknown) => string | null): Record<string, number> {
  const v = c[field];
  if (absent(v)) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(file, field, `must be an object mapping module-name patterns to values, got ${show(v)}`);
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(v as Json)) {
    if (key === '') fail(file, field, 'has an empty pattern key');
    compiles(file, field, key, 'the pattern');
    const problem = check(value);
    if (problem) fail(file, field, `maps ${JSON.stringify(key)} to ${show(value)}; ${problem}`);
    out[key] = value as number;
  }
  return out;
}

const positiveInt = (v: unknown): string | null => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? null : 'a rank must be a positive integer');
const positiveFinite = (v: unknown): string | null => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? null : 'an alpha must be a positive finite number');

/** Refuses peft features whose tensors tabtune would have to apply and cannot. */
function refuseUnsupported(file: string, c: Json): void {
  if (!absent(c.peft_type) && c.peft_type !== 'LORA') {
    fail(file, 'peft_type', `is ${show(c.peft_type)}; only LORA adapters are supported`);
  }
  if (!absent(c.task_type) && c.task_type !== 'CAUSAL_LM') {
    fail(file, 'task_type', `is ${show(c.task_type)}; tabtune applies adapters to causal language models ("task_type": "CAUSAL_LM")`);
  }
  if (bool(file, c, 'use_dora')) fail(file, 'use_dora', 'is true; DoRA adapters are not supported (their lora_magnitude_vector tensors would be ignored)');
  if (bool(file, c, 'fan_in_fan_out')) fail(file, 'fan_in_fan_out', 'is true; only nn.Linear-style [out, in] weights are supported');
  if (bool(file, c, 'lora_bias')) fail(file, 'lora_bias', 'is true; LoRA biases (lora_B.bias) are not supported');
  if (bool(file, c, 'use_qalora')) fail(file, 'use_qalora', 'is true; QA-LoRA adapters (for GPTQ-quantized bases) are not supported');
  if (!absent(c.bias) && c.bias !== 'none') {
    if (c.bias === 'all' || c.bias === 'lora_only') {
      fail(file, 'bias', `is ${show(c.bias)}; such an adapter also trains the base model's biases, which tabtune does not support (only "bias": "none")`);
    }
    fail(file, 'bias', `is ${show(c.bias)}; peft knows "none", "all" and "lora_only", and tabtune supports only "none"`);
  }
  const mts = c.modules_to_save;
  if (!absent(mts)) {
    if (!Array.isArray(mts)) fail(file, 'modules_to_save', `must be a list of module names or null, got ${show(mts)}`);
    if (mts.length > 0) fail(file, 'modules_to_save', `lists ${JSON.stringify(mts)}; fully trained extra modules (modules_to_save) are not supported`);
  }
  if (!absent(c.layer_replication)) fail(file, 'layer_replication', 'is set; replicated layers are not supported');
  const tp = c.target_parameters;
  if (!absent(tp) && !(Array.isArray(tp) && tp.length === 0)) {
    fail(file, 'target_parameters', `is ${show(tp)}; LoRA on bare parameters (e.g. MoE experts) is not supported`);
  }
  const tti = c.trainable_token_indices;
  if (!absent(tti) && !(Array.isArray(tti) && tti.length === 0)) {
    fail(file, 'trainable_token_indices', 'is set; trainable token embeddings are not supported');
  }
  if (!absent(c.alora_invocation_tokens)) fail(file, 'alora_invocation_tokens', 'is set; activated LoRA (aLoRA) adapters are not supported');
}

function layerList(file: string, c: Json): number[] | null {
  const v = c.layers_to_transform;
  if (absent(v)) return null;
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list)) fail(file, 'layers_to_transform', `must be a layer index or a list of them, got ${show(v)}`);
  for (const l of list as unknown[]) {
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0) fail(file, 'layers_to_transform', `must list layer indices (integers >= 0), but holds ${show(l)}`);
  }
  // peft: an empty list means every layer.
  return list.length === 0 ? null : [...new Set(list as number[])].sort((a, b) => a - b);
}

/** Parses adapter_config.json text. Throws AdapterError naming the file and field on anything peft or tabtune would refuse. */
export function parsePeftConfig(text: string, file: string): PeftAdapterConfig {
  const c = parseJson(text, file);
  refuseUnsupported(file, c);

  const r = c.r;
  if (absent(r)) fail(file, 'r', 'is missing; it holds the LoRA rank (lora_A is [r, in_features])');
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0) fail(file, 'r', `must be a positive integer, got ${show(r)}`);
  const alpha = c.lora_alpha;
  if (absent(alpha)) fail(file, 'lora_alpha', 'is missing; without it the adapter\'s scaling (lora_alpha / r) is unknown: add the "lora_alpha" used in training');
  if (typeof alpha !== 'number') fail(file, 'lora_alpha', `must be a number, got ${show(alpha)}`);
  if (!Number.isFinite(alpha) || alpha <= 0) fail(file, 'lora_alpha', `must be a positive finite number, got ${show(alpha)}`);
  const dropout = c.lora_dropout;
  if (!absent(dropout) && !(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) {
    fail(file, 'lora_dropout', `must be a number in [0, 1), got ${show(dropout)}`);
  }

  const written = stringList(file, c, 'target_modules', true);
  if (Array.isArray(written) && written.length === 0) {
    fail(file, 'target_modules', 'is an empty list; peft refuses an adapter that targets no module ("No `target_modules` passed")');
  }
  const excludeModules = stringList(file, c, 'exclude_modules', true);
  const layersToTransform = layerList(file, c);
  const lp = stringList(file, c, 'layers_pattern', false);
  const layersPattern = lp === null ? null : Array.isArray(lp) ? lp : [lp];
  for (const p of layersPattern ?? []) compiles(file, 'layers_pattern', p, 'the pattern');
  if (typeof written === 'string' && !absent(c.layers_to_transform)) {
    fail(file, 'layers_to_transform', 'is set while "target_modules" is a string (a regular expression); peft refuses that combination');
  }
  if (typeof written === 'string' && layersPattern) {
    fail(file, 'layers_pattern', 'is set while "target_modules" is a string (a regular expression); peft refuses that combination');
  }
  if (layersPattern && layersPattern.length > 0 && absent(c.layers_to_transform)) {
    fail(file, 'layers_pattern', 'is set without "layers_to_transform"; peft refuses that ("When `layers_pattern` is specified, `layers_to_transform` must also be specified")');
  }

  return {
    r,
    loraAlpha: alpha,
    useRslora: bool(file, c, 'use_rslora'),
    loraDropout: typeof dropout === 'number' ? dropout : 0,
    targetModules: written ?? PEFT_DEFAULT_TARGETS,
    targetModulesDefaulted: written === null,
    excludeModules,
    layersToTransform,
    layersPattern,
    rankPattern: patternMap(file, c, 'rank_pattern', positiveInt),
    alphaPattern: patternMap(file, c, 'alpha_pattern', positiveFinite),
    baseModelNameOrPath: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : null,
    init: c.init_lora_weights === 'gaussian' ? 'gaussian' : 'default',
  };
}
