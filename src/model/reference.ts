// Float64 CPU reference of the whole causal LM, following transformers' Llama / Mistral / Qwen2 /
// Qwen3 / Gemma 3 modeling code. It is the oracle the WGSL engine is tested against: plain loops, no caching,
// O(T^2) attention; correctness over speed.
// Dimension key: T = tokens, V = vocab, H = hidden, I = intermediate (MLP), nH = query heads,
// nKV = key/value heads, D = head dim, G = nH / nKV (query heads per kv head), r = LoRA rank.

import { toFloat32, type FloatDtype } from '../formats/dtype.ts';
import { activation, softcap } from './activations.ts';
import type { ModelConfig } from './config.ts';
import { layerNorms, layerRope, layerWindow } from './layers.ts';
import { ropeInvFreq } from './rope-freqs.ts';

export { ropeInvFreq };

/** HF tensor name -> values, row-major; undefined when the checkpoint has no such tensor. */
export type WeightLookup = (name: string) => Float64Array | undefined;

export interface ReferenceLora {
  scaling: number;
  /** Keyed by module name, e.g. 'model.layers.0.self_attn.q_proj'. A: [r, in]. */
  a: Map<string, Float64Array>;
  /** B: [out, r]. */
  b: Map<string, Float64Array>;
  rank: number;
}

function need(w: WeightLookup, name: string, size: number): Float64Array {
  const t = w(name);
  if (!t) throw new Error(`reference: tensor "${name}" is missing`);
  if (t.length !== size) throw new Error(`reference: tensor "${name}" has ${t.length} values, expected ${size}`);
  return t;
}

/** y = x W^T + b + scaling * (x A^T) B^T.  x: [T, nIn] -> y: [T, nOut]; W: [nOut, nIn]. */
function linear(
  w: WeightLookup,
  module: string,
  x: Float64Array,
  T: number,
  nIn: number,
  nOut: number,
  hasBias: boolean,
  lora?: ReferenceLora,
  weightName = `${module}.weight`,
): Float64Array {
  const W = need(w, weightName, nOut * nIn);
  const b = hasBias ? need(w, `${module}.bias`, nOut) : null;
  const y = new Float64Array(T * nOut);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < nOut; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < nIn; i++) s += x[t * nIn + i]! * W[o * nIn + i]!;
      y[t * nOut + o] = s;
    }
  }
  const A = lora?.a.get(module);
  const B = lora?.b.get(module);
  if (lora && A && B) {
    const r = lora.rank;
    if (A.length !== r * nIn || B.length !== nOut * r) {
      throw new Error(`reference: LoRA for "${module}" must be A [${r}, ${nIn}] and B [${nOut}, ${r}]`);
    }
    const ax = new Float64Array(r); // ax: [r]
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < r; k++) {
        let s = 0;
        for (let i = 0; i < nIn; i++) s += A[k * nIn + i]! * x[t * nIn + i]!;
        ax[k] = s;
      }
      for (let o = 0; o < nOut; o++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += B[o * r + k]! * ax[k]!;
        y[t * nOut + o]! += lora.scaling * s;
      }
    }
  }
  return y;
}

/** Each row of x: [rows, n] becomes x * rsqrt(mean(x^2) + eps) * (offset + weight); offset 1 for Gemma. */
function rmsNorm(x: Float64Array, rows: number, n: number, weight: Float64Array, eps: number, offset: number): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[r * n + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) y[r * n + i] = x[r * n + i]! * inv * (offset + weight[i]!);
  }
  return y;
}

/**
 * Rotates x: [T, nHeads, D] in place, position t = row index. Half layout as transformers'
 * rotate_half: dim i pairs with i + D/2 and both use frequency i.
 */
export function applyRope(x: Float64Array, T: number, nHeads: number, D: number, invFreq: Float64Array): void {
  const half = D / 2;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const base = (t * nHeads + h) * D;
      for (let i = 0; i < half; i++) {
        const angle = t * invFreq[i]!;
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const x1 = x[base + i]!;
        const x2 = x[base + i + half]!;
        x[base + i] = x1 * c - x2 * s;
        x[base + i + half] = x2 * c + x1 * s;
      }
    }
  }
}

/**
 * Causal (optionally sliding-window) softmax attention. q: [T, nH, D], k, v: [T, nKV, D] -> [T, nH*D].
 * Scores are q.k * cfg.attentionScale, soft-capped (Gemma's attn_logit_softcapping) before the mask.
 */
function attention(cfg: ModelConfig, q: Float64Array, k: Float64Array, v: Float64Array, T: number, window: number | null): Float64Array {
  const { numHeads: nH, numKvHeads: nKV, headDim: D } = cfg;
  const G = nH / nKV;
  const scale = cfg.attentionScale;
  const out = new Float64Array(T * nH * D);
  const scores = new Float64Array(T); // scores: [T] over key positions
  for (let h = 0; h < nH; h++) {
    const kvh = Math.floor(h / G);
    for (let t = 0; t < T; t++) {
      const first = window === null ? 0 : Math.max(0, t - window + 1); // key s allowed iff t - s < window
      let max = -Infinity;
      for (let s = first; s <= t; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(t * nH + h) * D + d]! * k[(s * nKV + kvh) * D + d]!;
        scores[s] = softcap(dot * scale, cfg.attnLogitSoftcap);
        max = Math.max(max, scores[s]!);
      }
      let sum = 0;
      for (let s = first; s <= t; s++) {
        scores[s] = Math.exp(scores[s]! - max);
        sum += scores[s]!;
      }
      for (let s = first; s <= t; s++) {
        const p = scores[s]! / sum;
        for (let d = 0; d < D; d++) out[(t * nH + h) * D + d]! += p * v[(s * nKV + kvh) * D + d]!;
      }
    }
  }
  return out;
}

function addInPlace(x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i]! += y[i]!;
}

/** Logits [T, V] for tokens at positions 0..T-1. */
export function referenceLogits(cfg: ModelConfig, w: WeightLookup, tokens: number[], lora?: ReferenceLora): Float64Array {
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: nKV, headDim: D, vocabSize: V } = cfg;
  const T = tokens.length;
  const eps = cfg.rmsNormEps;
  const norm = (x: Float64Array, rows: number, n: number, name: string) => rmsNorm(x, rows, n, need(w, name, n), eps, cfg.normOffset);
  const embed = need(w, 'model.embed_tokens.weight', V * H); // embed: [V, H]
  const x = new Float64Array(T * H); // x: [T, H], the residual stream
  tokens.forEach((tok, t) => {
    if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new Error(`reference: token ${tok} at ${t} is outside the vocab (${V})`);
    for (let i = 0; i < H; i++) x[t * H + i] = embed[tok * H + i]! * cfg.embedScale;
  });
  const invFreq = { global: ropeInvFreq(cfg, 'global'), local: ropeInvFreq(cfg, 'local') };
  const act = activation(cfg.mlpActivation);

  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}`;
    const at = `${p}.self_attn`;
    const norms = layerNorms(cfg, l);
    const h = norm(x, T, H, norms.input); // h: [T, H]
    let q = linear(w, `${at}.q_proj`, h, T, H, nH * D, cfg.qkvBias, lora); // q: [T, nH, D]
    let k = linear(w, `${at}.k_proj`, h, T, H, nKV * D, cfg.qkvBias, lora); // k: [T, nKV, D]
    const v = linear(w, `${at}.v_proj`, h, T, H, nKV * D, cfg.qkvBias, lora); // v: [T, nKV, D]
    if (cfg.qkNorm) {
      q = norm(q, T * nH, D, `${at}.q_norm.weight`);
      k = norm(k, T * nKV, D, `${at}.k_norm.weight`);
    }
    const f = invFreq[layerRope(cfg, l)];
    applyRope(q, T, nH, D, f);
    applyRope(k, T, nKV, D, f);
    const a = attention(cfg, q, k, v, T, layerWindow(cfg, l)); // a: [T, nH*D]
    const o = linear(w, `${at}.o_proj`, a, T, nH * D, H, cfg.oBias, lora); // o: [T, H]
    addInPlace(x, norms.attnOut ? norm(o, T, H, norms.attnOut) : o);

    const mp = `${p}.mlp`;
    const h2 = norm(x, T, H, norms.mlpIn);
    const g = linear(w, `${mp}.gate_proj`, h2, T, H, I, cfg.mlpBias, lora); // g: [T, I]
    const u = linear(w, `${mp}.up_proj`, h2, T, H, I, cfg.mlpBias, lora); // u: [T, I]
    for (let i = 0; i < g.length; i++) g[i] = act(g[i]!) * u[i]!;
    const down = linear(w, `${mp}.down_proj`, g, T, I, H, cfg.mlpBias, lora); // down: [T, H]
    addInPlace(x, norms.mlpOut ? norm(down, T, H, norms.mlpOut) : down);
  }

  const xf = norm(x, T, H, 'model.norm.weight');
  // Tied models use embed_tokens as the output matrix (any lm_head in the file is ignored, as
  // transformers ties it); it is not scaled by embedScale.
  const head = cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const logits = linear(w, 'lm_head', xf, T, H, V, false, lora, head);
  if (cfg.finalLogitSoftcap !== null) for (let i = 0; i < logits.length; i++) logits[i] = softcap(logits[i]!, cfg.finalLogitSoftcap);
  return logits;
}

/** log(sum(exp(row))) - row[label] for one row of logits. */
function crossEntropy(logits: Float64Array, row: number, V: number, label: number): number {
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[row * V + i]!);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(logits[row * V + i]! - max);
  return max + Math.log(sum) - logits[row * V + label]!;
}

/**
 * Mean cross-entropy as transformers computes it: logits at t predict labels[t + 1], labels of
 * -100 are ignored, labels default to inputIds, and the mean is over every target token of every
 * row (not a mean of row means). With no target tokens the loss is NaN, as in transformers.
 */
export function referenceLoss(
  cfg: ModelConfig,
  w: WeightLookup,
  rows: { inputIds: number[]; labels?: number[] }[],
  lora?: ReferenceLora,
): { loss: number; tokens: number } {
  let sum = 0;
  let tokens = 0;
  for (const row of rows) {
    const labels = row.labels ?? row.inputIds;
    if (labels.length !== row.inputIds.length) {
      throw new Error(`reference: ${labels.length} labels for ${row.inputIds.length} input ids`);
    }
    if (!labels.slice(1).some((l) => l !== -100)) continue;
    const logits = referenceLogits(cfg, w, row.inputIds, lora);
    for (let t = 0; t + 1 < labels.length; t++) {
      const label = labels[t + 1]!;
      if (label === -100) continue;
      if (!Number.isInteger(label) || label < 0 || label >= cfg.vocabSize) throw new Error(`reference: label ${label} is outside the vocab`);
      sum += crossEntropy(logits, t, cfg.vocabSize, label);
      tokens++;
    }
  }
  return { loss: tokens === 0 ? NaN : sum / tokens, tokens };
}

/**
 * Greedy decoding; returns the new tokens only, including a final eos. Recomputes the whole
 * prefix every step on purpose: a KV cache under test must agree with this.
 */
export function referenceGreedy(cfg: ModelConfig, w: WeightLookup, prompt: number[], maxNewTokens: number, lora?: ReferenceLora): number[] {
  const seq = [...prompt];
  const out: number[] = [];
  const V = cfg.vocabSize;
  for (let n = 0; n < maxNewTokens; n++) {
    const logits = referenceLogits(cfg, w, seq, lora);
    const row = (seq.length - 1) * V;
    let best = 0;
    // Strict > keeps the first maximum, as torch.argmax does.
    for (let i = 1; i < V; i++) if (logits[row + i]! > logits[row + best]!) best = i;
    out.push(best);
    seq.push(best);
    if (cfg.eosTokenIds.includes(best)) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// A minimal safetensors parser for the files makeTestModel writes (the validating reader lives in
// formats/). Single file or shards listed in model.safetensors.index.json.

function parseSafetensors(file: string, bytes: Uint8Array, into: Map<string, Float64Array>): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.byteLength) throw new Error(`${file}: header length ${n} is past the end of the file`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const start = 8 + n;
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, data_offsets: off } = info as { dtype: string; data_offsets: [number, number] };
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new Error(`${file}: tensor "${name}" has dtype ${dtype}`);
    into.set(name, Float64Array.from(toFloat32(dtype as FloatDtype, bytes.subarray(start + off[0], start + off[1]))));
  }
}

export function loadReferenceWeights(files: Map<string, Uint8Array>): WeightLookup {
  const tensors = new Map<string, Float64Array>();
  const file = (name: string): Uint8Array => {
    const b = files.get(name);
    if (!b) throw new Error(`reference: the model has no ${name}`);
    return b;
  };
  const index = files.get('model.safetensors.index.json');
  if (index) {
    const { weight_map } = JSON.parse(new TextDecoder().decode(index)) as { weight_map: Record<string, string> };
    for (const shard of new Set(Object.values(weight_map))) parseSafetensors(shard, file(shard), tensors);
  } else {
    parseSafetensors('model.safetensors', file('model.safetensors'), tensors);
  }
  return (name) => tensors.get(name);
}
