// A LoRA adapter as the GGUF file llama.cpp's `--lora` loads (the layout convert_lora_to_gguf.py
// writes), and back.
// Dimension key: r = rank, in/out = the layer's features, nH = query heads, nKV = key/value heads.
//   lora_a: torch shape [r, in]  (ggml ne [in, r])      lora_b: torch shape [out, r]  (ggml ne [r, out])
// llama.cpp applies  y += (alpha / r) * B (A x)  with r = lora_b's ne[0]; with no alpha, scale 1.
// For architecture "llama" llama.cpp's converter permutes the rows of q_proj / k_proj for its rotary
// layout, so the rows of lora_b are permuted the same way here (nH heads for q, nKV for k).

import type { LoraModuleWeights, LoraWeights } from '../lora/adapter.ts';
import type { LoraConfig } from '../lora/config.ts';
import type { ModelConfig } from '../model/config.ts';
import { LINEAR_MODULES, type LinearModule, linearName, linearShape } from '../model/params.ts';
import { fromFloat32, toFloat32, type FloatDtype } from './dtype.ts';
import { FormatError, TensorError } from './errors.ts';
import { type GgufTensor, type GgufValue, readGguf, writeGguf } from './gguf.ts';

/** llama.cpp's tensor name (between "blk.N." and ".weight") for each linear module. */
export const GGUF_LORA_MODULE_NAMES: Record<LinearModule, string> = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
};

/** The base model's `general.architecture` in llama.cpp: Mistral-shaped models load as "llama". */
export function ggufArchitecture(cfg: Pick<ModelConfig, 'architecture'>): string {
  return cfg.architecture === 'mistral' ? 'llama' : cfg.architecture;
}

/** Heads to permute lora_b's rows over, or null when llama.cpp does not permute this module. */
function permuteHeads(cfg: ModelConfig, module: LinearModule): number | null {
  if (ggufArchitecture(cfg) !== 'llama') return null;
  if (module === 'q_proj') return cfg.numHeads;
  if (module === 'k_proj') return cfg.numKvHeads;
  return null;
}

/**
 * Rows of a [rows, cols] matrix reordered as llama.cpp's converter does:
 * w.reshape(nHead, 2, rows/nHead/2, cols).swapaxes(1, 2).reshape(rows, cols), i.e. within each head
 * the two rotary halves are interleaved. `inverse` undoes it. Rows are moved whole, so this works on
 * floats and on a quantized matrix's raw bytes alike (`cols` = bytes per row there).
 */
export function permuteRotaryRows<T extends Float32Array | Uint8Array>(src: T, rows: number, cols: number, nHead: number, inverse = false): T {
  if (rows % (2 * nHead) !== 0) throw new Error(`cannot permute ${rows} rows over ${nHead} heads: rows must be a multiple of 2 * heads`);
  const perHead = rows / nHead;
  const half = perHead / 2;
  const out = (src instanceof Float32Array ? new Float32Array(src.length) : new Uint8Array(src.length)) as T;
  for (let h = 0; h < nHead; h++) {
    for (let j = 0; j < half; j++) {
      for (let k = 0; k < 2; k++) {
        const permuted = h * perHead + j * 2 + k; // row of the output of the forward permutation
        const original = h * perHead + k * half + j;
        const [to, from] = inverse ? [original, permuted] : [permuted, original];
        out.set(src.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

const MODULE_RE = /^model\.layers\.(\d+)\.(?:self_attn|mlp)\.([a-z_]+)$/;

function parseModuleName(name: string): { layer: number; module: LinearModule } | null {
  const m = MODULE_RE.exec(name);
  if (!m) return null;
  const layer = Number(m[1]);
  const module = m[2] as LinearModule;
  if (!(LINEAR_MODULES as readonly string[]).includes(module) || linearName(layer, module) !== name) return null;
  return { layer, module };
}

/**
 * The adapter as a GGUF file for `llama-cli -m base.gguf --lora adapter.gguf`. Data is written in
 * `opts.dtype` (default F32, lossless). Every module must have rank `lc.rank` and the shape the
 * base model gives it. For rsLoRA, `adapter.lora.alpha` is alpha * sqrt(r), so that llama.cpp's
 * alpha / r equals PEFT's alpha / sqrt(r).
 */
export function loraToGguf(
  cfg: ModelConfig,
  lc: Pick<LoraConfig, 'alpha' | 'rank' | 'rslora'>,
  weights: LoraWeights,
  opts: { dtype?: FloatDtype; name?: string } = {},
): Uint8Array {
  const dtype = opts.dtype ?? 'F32';
  const alpha = lc.rslora ? lc.alpha * Math.sqrt(lc.rank) : lc.alpha;
  const metadata: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: ggufArchitecture(cfg) }],
    ['general.type', { type: 'string', value: 'adapter' }],
    ['adapter.type', { type: 'string', value: 'lora' }],
    ['adapter.lora.alpha', { type: 'f32', value: alpha }],
  ];
  if (opts.name !== undefined) metadata.push(['general.name', { type: 'string', value: opts.name }]);
  metadata.push(['general.alignment', { type: 'u32', value: 32 }]);

  const tensors: GgufTensor[] = [];
  for (const [name, m] of weights.modules) {
    const parsed = parseModuleName(name);
    if (!parsed || parsed.layer >= cfg.numLayers) {
      throw new Error(`LoRA module "${name}" is not a linear layer of this ${cfg.architecture} model (layers 0 .. ${cfg.numLayers - 1}; ${LINEAR_MODULES.join(', ')})`);
    }
    const [out, inp] = linearShape(cfg, parsed.module);
    if (m.inFeatures !== inp || m.outFeatures !== out) {
      throw new Error(`LoRA module "${name}" is for a [${m.outFeatures}, ${m.inFeatures}] weight, but the model's is [${out}, ${inp}]`);
    }
    if (m.rank !== lc.rank) throw new Error(`LoRA module "${name}" has rank ${m.rank}, but the config's rank is ${lc.rank}; llama.cpp scales every module by one alpha`);
    if (m.a.length !== m.rank * inp || m.b.length !== out * m.rank) {
      throw new Error(`LoRA module "${name}": A has ${m.a.length} values (want ${m.rank} x ${inp}), B has ${m.b.length} (want ${out} x ${m.rank})`);
    }
    const heads = permuteHeads(cfg, parsed.module);
    const b = heads === null ? m.b : permuteRotaryRows(m.b, out, m.rank, heads);
    const base = `blk.${parsed.layer}.${GGUF_LORA_MODULE_NAMES[parsed.module]}.weight`;
    tensors.push({ name: `${base}.lora_a`, dims: [m.rank, inp], type: dtype, data: fromFloat32(dtype, m.a) });
    tensors.push({ name: `${base}.lora_b`, dims: [out, m.rank], type: dtype, data: fromFloat32(dtype, b) });
  }
  return writeGguf(metadata, tensors, 32);
}

const TENSOR_RE = /^blk\.(\d+)\.([a-z_]+)\.weight\.lora_(a|b)$/;
const MODULE_BY_GGUF_NAME = new Map(Object.entries(GGUF_LORA_MODULE_NAMES).map(([k, v]) => [v, k as LinearModule]));

function stringMeta(file: string, md: Map<string, GgufValue>, key: string): string {
  const v = md.get(key);
  if (!v) throw new FormatError(file, `metadata "${key}" is missing; this is not a LoRA adapter GGUF`);
  if (v.type !== 'string') throw new FormatError(file, `metadata "${key}" must be a string, got ${v.type}`);
  return v.value as string;
}

/**
 * Reads a LoRA adapter GGUF for the base model `cfg`, undoing the q/k row permutation for "llama".
 * `alpha` is the file's adapter.lora.alpha (0 when absent); each module's scaling is what llama.cpp
 * applies: alpha / r, or 1 when alpha is 0.
 */
export function ggufToLora(bytes: Uint8Array, cfg: ModelConfig, file = 'adapter.gguf'): { alpha: number; weights: LoraWeights; architecture: string } {
  const g = readGguf(bytes, file);
  const md = g.metadata;
  const generalType = stringMeta(file, md, 'general.type');
  if (generalType !== 'adapter') throw new FormatError(file, `general.type is "${generalType}", not "adapter": this is a model, not a LoRA adapter`);
  const adapterType = stringMeta(file, md, 'adapter.type');
  if (adapterType !== 'lora') throw new FormatError(file, `adapter.type is "${adapterType}"; only "lora" adapters are supported`);
  const architecture = stringMeta(file, md, 'general.architecture');
  const expected = ggufArchitecture(cfg);
  if (architecture !== expected) {
    throw new FormatError(file, `is an adapter for architecture "${architecture}", but the base model is "${expected}"`);
  }
  let alpha = 0;
  const a = md.get('adapter.lora.alpha');
  if (a) {
    if (a.type !== 'f32') throw new FormatError(file, `metadata "adapter.lora.alpha" must be a f32, got ${a.type}`);
    alpha = a.value as number;
    if (!Number.isFinite(alpha) || alpha < 0) throw new FormatError(file, `metadata "adapter.lora.alpha" is ${alpha}; it must be a non-negative number`);
  }

  const pairs = new Map<string, { layer: number; module: LinearModule; a?: GgufTensor; b?: GgufTensor }>();
  for (const t of g.tensors) {
    const m = TENSOR_RE.exec(t.name);
    const module = m ? MODULE_BY_GGUF_NAME.get(m[2]!) : undefined;
    if (!m || !module) {
      throw new TensorError(file, t.name, `is not a LoRA tensor tabtune supports (blk.N.{${Object.values(GGUF_LORA_MODULE_NAMES).join(',')}}.weight.lora_a / .lora_b)`);
    }
    const layer = Number(m[1]);
    if (layer >= cfg.numLayers) throw new TensorError(file, t.name, `is for layer ${layer}, but the base model has layers 0 .. ${cfg.numLayers - 1}`);
    const name = linearName(layer, module);
    const entry = pairs.get(name) ?? { layer, module };
    entry[m[3] as 'a' | 'b'] = t;
    pairs.set(name, entry);
  }

  const modules = new Map<string, LoraModuleWeights>();
  for (const [name, p] of pairs) {
    const base = `blk.${p.layer}.${GGUF_LORA_MODULE_NAMES[p.module]}.weight`;
    if (!p.a) throw new TensorError(file, `${base}.lora_a`, `is missing (its pair ${base}.lora_b is present)`);
    if (!p.b) throw new TensorError(file, `${base}.lora_b`, `is missing (its pair ${base}.lora_a is present)`);
    const [out, inp] = linearShape(cfg, p.module);
    const [r, aIn] = p.a.dims;
    if (p.a.dims.length !== 2 || r === undefined || aIn !== inp || r < 1) {
      throw new TensorError(file, p.a.name, `has shape [${p.a.dims}]; the base model needs [r, ${inp}]`);
    }
    if (p.b.dims.length !== 2 || p.b.dims[0] !== out || p.b.dims[1] !== r) {
      throw new TensorError(file, p.b.name, `has shape [${p.b.dims}]; with lora_a [${p.a.dims}] it must be [${out}, ${r}]`);
    }
    const heads = permuteHeads(cfg, p.module);
    const bRaw = toFloat32(p.b.type as FloatDtype, p.b.data);
    modules.set(name, {
      rank: r,
      inFeatures: inp,
      outFeatures: out,
      scaling: alpha ? alpha / r : 1,
      a: toFloat32(p.a.type as FloatDtype, p.a.data),
      b: heads === null ? bRaw : permuteRotaryRows(bRaw, out, r, heads, true),
    });
  }
  // In the base model's order (layer, then module), whatever order the file lists them in.
  const ordered = new Map<string, LoraModuleWeights>();
  for (let l = 0; l < cfg.numLayers; l++) {
    for (const m of LINEAR_MODULES) {
      const w = modules.get(linearName(l, m));
      if (w) ordered.set(linearName(l, m), w);
    }
  }
  return { alpha, weights: { modules: ordered }, architecture };
}
