// Float64 CPU reference of the backward pass of the causal LM in reference.ts: the oracle the GPU
// training engine's gradients are tested against. A plain manual backward: the forward below
// repeats reference.ts step for step but keeps every intermediate of every layer, then the
// backward walks the same steps in reverse by hand. Plain loops, O(T^2) attention, no autodiff.
// Dimension key: T = tokens, V = vocab, H = hidden, I = intermediate (MLP), nH = query heads,
// nKV = key/value heads, D = head dim, G = nH / nKV (query heads per kv head), r = LoRA rank,
// N = target tokens over all rows (the loss is a sum over them divided by N).

import { activation, activationGrad, softcap } from './activations.ts';
import type { ModelConfig } from './config.ts';
import { layerNorms, layerRope, layerWindow } from './layers.ts';
import { hasBias, LINEAR_MODULES, linearName, linearShape, modelParams, type LinearModule } from './params.ts';
import { applyRope, ropeInvFreq, type ReferenceLora, type WeightLookup } from './reference.ts';

export interface ReferenceGrads {
  /** Same value as referenceLoss(cfg, w, rows, lora).loss. */
  loss: number;
  /** Target tokens N the loss is averaged over. */
  tokens: number;
  /** dLoss/dA, [r, in], keyed like lora.a. */
  gradA: Map<string, Float64Array>;
  /** dLoss/dB, [out, r], keyed like lora.b. */
  gradB: Map<string, Float64Array>;
}

type Rows = { inputIds: number[]; labels?: number[] }[];

/** Where the backward writes its gradients. Everything is accumulated (+=). */
interface Sink {
  lora: ReferenceLora | undefined;
  gradA: Map<string, Float64Array>;
  gradB: Map<string, Float64Array>;
  /** HF tensor name -> gradient, for full fine-tuning; null when only LoRA gradients are wanted. */
  full: Map<string, Float64Array> | null;
}

function need(w: WeightLookup, name: string, size: number): Float64Array {
  const t = w(name);
  if (!t) throw new Error(`reference-grad: tensor "${name}" is missing`);
  if (t.length !== size) throw new Error(`reference-grad: tensor "${name}" has ${t.length} values, expected ${size}`);
  return t;
}

/** The gradient buffer for a full-model tensor, or null when full gradients are not wanted. */
function fullGrad(sink: Sink, name: string, size: number): Float64Array | null {
  if (!sink.full) return null;
  const g = sink.full.get(name);
  if (!g) throw new Error(`reference-grad: no gradient slot for "${name}"`);
  if (g.length !== size) throw new Error(`reference-grad: gradient of "${name}" has ${g.length} values, expected ${size}`);
  return g;
}

/** A and B of a module when both are present (the forward applies LoRA only then), shape-checked. */
function loraOf(lora: ReferenceLora | undefined, module: string, nIn: number, nOut: number): { A: Float64Array; B: Float64Array } | null {
  const A = lora?.a.get(module);
  const B = lora?.b.get(module);
  if (!lora || !A || !B) return null;
  const r = lora.rank;
  if (A.length !== r * nIn || B.length !== nOut * r) {
    throw new Error(`reference-grad: LoRA for "${module}" must be A [${r}, ${nIn}] and B [${nOut}, ${r}]`);
  }
  return { A, B };
}

// ---------------------------------------------------------------------------------------------
// Linear: y = x W^T + b + scaling * (x A^T) B^T.  x: [T, nIn], y: [T, nOut], W: [nOut, nIn],
// A: [r, nIn], B: [nOut, r].

interface LinearSpec {
  module: string;
  nIn: number;
  nOut: number;
  bias: boolean;
  /** Defaults to `${module}.weight`; the tied LM head reads model.embed_tokens.weight. */
  weightName?: string;
}

function linearForward(w: WeightLookup, lora: ReferenceLora | undefined, s: LinearSpec, x: Float64Array, T: number): Float64Array {
  const { module, nIn, nOut } = s;
  const W = need(w, s.weightName ?? `${module}.weight`, nOut * nIn);
  const b = s.bias ? need(w, `${module}.bias`, nOut) : null;
  const y = new Float64Array(T * nOut);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < nOut; o++) {
      let acc = b ? b[o]! : 0;
      for (let i = 0; i < nIn; i++) acc += x[t * nIn + i]! * W[o * nIn + i]!;
      y[t * nOut + o] = acc;
    }
  }
  const ab = loraOf(lora, module, nIn, nOut);
  if (lora && ab) {
    const { A, B } = ab;
    const r = lora.rank;
    const ax = new Float64Array(r); // ax: [r]
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < r; k++) {
        let acc = 0;
        for (let i = 0; i < nIn; i++) acc += A[k * nIn + i]! * x[t * nIn + i]!;
        ax[k] = acc;
      }
      for (let o = 0; o < nOut; o++) {
        let acc = 0;
        for (let k = 0; k < r; k++) acc += B[o * r + k]! * ax[k]!;
        y[t * nOut + o]! += lora.scaling * acc;
      }
    }
  }
  return y;
}

/**
 * Given dy: [T, nOut] returns dx: [T, nIn] = dy W + scaling * (dy B) A, and accumulates
 * dW += dy^T x, db += sum_t dy, dB += scaling * dy^T (x A^T), dA += (scaling * dy B)^T x.
 */
function linearBackward(w: WeightLookup, sink: Sink, s: LinearSpec, x: Float64Array, dy: Float64Array, T: number): Float64Array {
  const { module, nIn, nOut } = s;
  const weightName = s.weightName ?? `${module}.weight`;
  const W = need(w, weightName, nOut * nIn);
  const dx = new Float64Array(T * nIn);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < nOut; o++) {
      const g = dy[t * nOut + o]!;
      if (g === 0) continue;
      for (let i = 0; i < nIn; i++) dx[t * nIn + i]! += g * W[o * nIn + i]!;
    }
  }
  const dW = fullGrad(sink, weightName, nOut * nIn); // dW: [nOut, nIn]
  if (dW) {
    for (let t = 0; t < T; t++) {
      for (let o = 0; o < nOut; o++) {
        const g = dy[t * nOut + o]!;
        if (g === 0) continue;
        for (let i = 0; i < nIn; i++) dW[o * nIn + i]! += g * x[t * nIn + i]!;
      }
    }
  }
  const db = s.bias ? fullGrad(sink, `${module}.bias`, nOut) : null; // db: [nOut]
  if (db) for (let t = 0; t < T; t++) for (let o = 0; o < nOut; o++) db[o]! += dy[t * nOut + o]!;

  const { lora } = sink;
  const ab = loraOf(lora, module, nIn, nOut);
  if (lora && ab) {
    const { A, B } = ab;
    const r = lora.rank;
    const sc = lora.scaling;
    const dA = sink.gradA.get(module)!; // dA: [r, nIn]
    const dB = sink.gradB.get(module)!; // dB: [nOut, r]
    const ax = new Float64Array(r); // ax: [r] = A x_t
    const dax = new Float64Array(r); // dax: [r] = scaling * B^T dy_t
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < r; k++) {
        let a = 0;
        for (let i = 0; i < nIn; i++) a += A[k * nIn + i]! * x[t * nIn + i]!;
        ax[k] = a;
        let d = 0;
        for (let o = 0; o < nOut; o++) d += B[o * r + k]! * dy[t * nOut + o]!;
        dax[k] = sc * d;
      }
      for (let o = 0; o < nOut; o++) {
        const g = sc * dy[t * nOut + o]!;
        for (let k = 0; k < r; k++) dB[o * r + k]! += g * ax[k]!;
      }
      for (let k = 0; k < r; k++) {
        const g = dax[k]!;
        for (let i = 0; i < nIn; i++) {
          dA[k * nIn + i]! += g * x[t * nIn + i]!;
          dx[t * nIn + i]! += g * A[k * nIn + i]!;
        }
      }
    }
  }
  return dx;
}

// ---------------------------------------------------------------------------------------------
// RMSNorm over rows of x: [rows, n]: y = x * inv * g with inv = (mean(x^2) + eps)^(-1/2).

function rmsNormForward(x: Float64Array, rows: number, n: number, g: Float64Array, eps: number): { y: Float64Array; inv: Float64Array } {
  const y = new Float64Array(rows * n);
  const inv = new Float64Array(rows); // inv: [rows]
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[r * n + i]! ** 2;
    const iv = 1 / Math.sqrt(ss / n + eps);
    inv[r] = iv;
    for (let i = 0; i < n; i++) y[r * n + i] = x[r * n + i]! * iv * g[i]!;
  }
  return { y, inv };
}

/**
 * dx_i = inv * g_i * dy_i - x_i * inv^3 / n * sum_j dy_j g_j x_j;  dg_i += sum_rows dy_i x_i inv.
 */
function rmsNormBackward(
  x: Float64Array,
  inv: Float64Array,
  rows: number,
  n: number,
  g: Float64Array,
  dy: Float64Array,
  dg: Float64Array | null,
): Float64Array {
  const dx = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const iv = inv[r]!;
    let dot = 0;
    for (let j = 0; j < n; j++) dot += dy[r * n + j]! * g[j]! * x[r * n + j]!;
    const c = (dot * iv * iv * iv) / n;
    for (let i = 0; i < n; i++) {
      const xi = x[r * n + i]!;
      const di = dy[r * n + i]!;
      dx[r * n + i] = iv * g[i]! * di - xi * c;
      if (dg) dg[i]! += di * xi * iv;
    }
  }
  return dx;
}

// ---------------------------------------------------------------------------------------------
// Attention. q: [T, nH, D], k, v: [T, nKV, D] (q and k already rotated) -> out: [T, nH*D];
// probs: [nH, T, T], zero where key s is masked (s > t, or t - s >= window). Scores are
// c = cap * tanh(q.k * scale / cap) with a softcap (Gemma), else q.k * scale; `caps` keeps
// tanh(q.k * scale / cap) [nH, T, T] for the backward (null without a softcap).

function visibleFrom(window: number | null, t: number): number {
  return window === null ? 0 : Math.max(0, t - window + 1);
}

function attentionForward(
  cfg: ModelConfig,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  T: number,
  window: number | null,
): { out: Float64Array; probs: Float64Array; caps: Float64Array | null } {
  const { numHeads: nH, numKvHeads: nKV, headDim: D } = cfg;
  const G = nH / nKV;
  const scale = cfg.attentionScale;
  const cap = cfg.attnLogitSoftcap;
  const out = new Float64Array(T * nH * D);
  const probs = new Float64Array(nH * T * T);
  const caps = cap === null ? null : new Float64Array(nH * T * T);
  for (let h = 0; h < nH; h++) {
    const kvh = Math.floor(h / G);
    for (let t = 0; t < T; t++) {
      const first = visibleFrom(window, t);
      const row = (h * T + t) * T;
      const p = probs.subarray(row, row + T); // p: [T] over key positions
      let max = -Infinity;
      for (let s = first; s <= t; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(t * nH + h) * D + d]! * k[(s * nKV + kvh) * D + d]!;
        p[s] = dot * scale;
        if (caps) {
          caps[row + s] = Math.tanh(p[s]! / cap!);
          p[s] = cap! * caps[row + s]!;
        }
        max = Math.max(max, p[s]!);
      }
      let sum = 0;
      for (let s = first; s <= t; s++) {
        p[s] = Math.exp(p[s]! - max);
        sum += p[s]!;
      }
      for (let s = first; s <= t; s++) {
        p[s]! /= sum;
        for (let d = 0; d < D; d++) out[(t * nH + h) * D + d]! += p[s]! * v[(s * nKV + kvh) * D + d]!;
      }
    }
  }
  return { out, probs, caps };
}

/**
 * dP[t,s] = dout_t . v_s;  dv_s += P[t,s] dout_t;  dS[t,s] = P[t,s] (dP[t,s] - sum_s' P[t,s'] dP[t,s']);
 * through a softcap dS is multiplied by 1 - tanh^2;  dq_t += scale * dS[t,s] k_s;  dk_s += scale * dS[t,s] q_t.
 * GQA: kv head floor(h / G) collects the gradients of all G query heads it serves.
 */
function attentionBackward(
  cfg: ModelConfig,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  att: { probs: Float64Array; caps: Float64Array | null },
  dout: Float64Array,
  T: number,
  window: number | null,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { numHeads: nH, numKvHeads: nKV, headDim: D } = cfg;
  const { probs, caps } = att;
  const G = nH / nKV;
  const scale = cfg.attentionScale;
  const dq = new Float64Array(T * nH * D);
  const dk = new Float64Array(T * nKV * D);
  const dv = new Float64Array(T * nKV * D);
  const dP = new Float64Array(T); // dP: [T] over key positions
  for (let h = 0; h < nH; h++) {
    const kvh = Math.floor(h / G);
    for (let t = 0; t < T; t++) {
      const first = visibleFrom(window, t);
      const row = (h * T + t) * T;
      const p = probs.subarray(row, row + T);
      const qo = (t * nH + h) * D;
      let pdp = 0;
      for (let s = first; s <= t; s++) {
        const vo = (s * nKV + kvh) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) {
          dot += dout[qo + d]! * v[vo + d]!;
          dv[vo + d]! += p[s]! * dout[qo + d]!;
        }
        dP[s] = dot;
        pdp += p[s]! * dot;
      }
      for (let s = first; s <= t; s++) {
        let dS = scale * p[s]! * (dP[s]! - pdp);
        if (caps) dS *= 1 - caps[row + s]! ** 2;
        const ko = (s * nKV + kvh) * D;
        for (let d = 0; d < D; d++) {
          dq[qo + d]! += dS * k[ko + d]!;
          dk[ko + d]! += dS * q[qo + d]!;
        }
      }
    }
  }
  return { dq, dk, dv };
}

// ---------------------------------------------------------------------------------------------
// One row: forward keeping intermediates, then backward with dLogits already scaled by 1/N.

interface LayerCache {
  xIn: Float64Array; // [T, H] residual stream entering the layer
  h: Float64Array; // [T, H] input_layernorm output
  inv1: Float64Array; // [T]
  qPre: Float64Array; // [T, nH*D] q_proj output (before q_norm and RoPE)
  kPre: Float64Array; // [T, nKV*D]
  qInv: Float64Array | null; // [T*nH] q_norm inverse rms
  kInv: Float64Array | null; // [T*nKV]
  q: Float64Array; // [T, nH, D] rotated
  k: Float64Array; // [T, nKV, D] rotated
  v: Float64Array; // [T, nKV, D]
  att: { probs: Float64Array; caps: Float64Array | null }; // [nH, T, T] each
  a: Float64Array; // [T, nH*D] attention output, o_proj input
  o: Float64Array; // [T, H] o_proj output
  oInv: Float64Array | null; // [T] inverse rms of the attention output norm (sandwich norms)
  xMid: Float64Array; // [T, H] residual after attention
  h2: Float64Array; // [T, H] the MLP's input norm output
  inv2: Float64Array; // [T]
  g: Float64Array; // [T, I] gate_proj output
  u: Float64Array; // [T, I] up_proj output
  act: Float64Array; // [T, I] act(g) * u, down_proj input
  m: Float64Array; // [T, H] down_proj output
  mInv: Float64Array | null; // [T] inverse rms of the MLP output norm (sandwich norms)
}

function specs(cfg: ModelConfig, l: number): Record<LinearModule, LinearSpec> {
  const out = {} as Record<LinearModule, LinearSpec>;
  for (const m of LINEAR_MODULES) {
    const [nOut, nIn] = linearShape(cfg, m);
    out[m] = { module: linearName(l, m), nIn, nOut, bias: hasBias(cfg, m) };
  }
  return out;
}

function headSpec(cfg: ModelConfig): LinearSpec {
  // Tied models use embed_tokens as the output matrix, as reference.ts does; with the weight name
  // shared, the LM head's dW lands in the embedding gradient.
  const weightName = cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  return { module: 'lm_head', nIn: cfg.hiddenSize, nOut: cfg.vocabSize, bias: false, weightName };
}

/** Adds this row's gradient of (sum of its token losses) / N to the sink; returns its loss sum. */
function rowBackward(cfg: ModelConfig, w: WeightLookup, sink: Sink, tokens: number[], labels: number[], N: number): number {
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: nKV, headDim: D, vocabSize: V } = cfg;
  const T = tokens.length;
  const eps = cfg.rmsNormEps;
  const { lora } = sink;
  // A norm multiplies by offset + w (Gemma stores w - 1); its weight gradient is the same for w.
  const normW = (name: string, n: number) => {
    const g = need(w, name, n);
    return cfg.normOffset === 0 ? g : g.map((v) => v + cfg.normOffset);
  };
  const normF = (x: Float64Array, rows: number, n: number, name: string) => rmsNormForward(x, rows, n, normW(name, n), eps);
  const normB = (x: Float64Array, inv: Float64Array, rows: number, n: number, name: string, dy: Float64Array) =>
    rmsNormBackward(x, inv, rows, n, normW(name, n), dy, fullGrad(sink, name, n));
  const embed = need(w, 'model.embed_tokens.weight', V * H); // embed: [V, H]
  let x = new Float64Array(T * H); // x: [T, H]
  tokens.forEach((tok, t) => {
    if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new Error(`reference-grad: token ${tok} at ${t} is outside the vocab (${V})`);
    for (let i = 0; i < H; i++) x[t * H + i] = embed[tok * H + i]! * cfg.embedScale;
  });
  const invFreq = { global: ropeInvFreq(cfg, 'global'), local: ropeInvFreq(cfg, 'local') }; // [D/2] each
  const act = activation(cfg.mlpActivation);
  const actGrad = activationGrad(cfg.mlpActivation);

  // ---- forward ----
  const caches: LayerCache[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    const at = `model.layers.${l}.self_attn`;
    const sp = specs(cfg, l);
    const norms = layerNorms(cfg, l);
    const xIn = x;
    const n1 = normF(xIn, T, H, norms.input);
    const qPre = linearForward(w, lora, sp.q_proj, n1.y, T);
    const kPre = linearForward(w, lora, sp.k_proj, n1.y, T);
    const v = linearForward(w, lora, sp.v_proj, n1.y, T);
    let q: Float64Array = qPre.slice();
    let k: Float64Array = kPre.slice();
    let qInv: Float64Array | null = null;
    let kInv: Float64Array | null = null;
    if (cfg.qkNorm) {
      const qn = normF(qPre, T * nH, D, `${at}.q_norm.weight`);
      const kn = normF(kPre, T * nKV, D, `${at}.k_norm.weight`);
      q = qn.y;
      qInv = qn.inv;
      k = kn.y;
      kInv = kn.inv;
    }
    const f = invFreq[layerRope(cfg, l)];
    applyRope(q, T, nH, D, f);
    applyRope(k, T, nKV, D, f);
    const { out: a, ...att } = attentionForward(cfg, q, k, v, T, layerWindow(cfg, l));
    const o = linearForward(w, lora, sp.o_proj, a, T);
    const on = norms.attnOut ? normF(o, T, H, norms.attnOut) : null;
    const xMid = xIn.slice();
    const oAdd = on ? on.y : o;
    for (let i = 0; i < xMid.length; i++) xMid[i]! += oAdd[i]!;
    const n2 = normF(xMid, T, H, norms.mlpIn);
    const g = linearForward(w, lora, sp.gate_proj, n2.y, T);
    const u = linearForward(w, lora, sp.up_proj, n2.y, T);
    const actOut = new Float64Array(T * I);
    for (let i = 0; i < actOut.length; i++) actOut[i] = act(g[i]!) * u[i]!;
    const m = linearForward(w, lora, sp.down_proj, actOut, T);
    const mn = norms.mlpOut ? normF(m, T, H, norms.mlpOut) : null;
    const mAdd = mn ? mn.y : m;
    x = xMid.slice();
    for (let i = 0; i < x.length; i++) x[i]! += mAdd[i]!;
    caches.push({
      xIn, h: n1.y, inv1: n1.inv, qPre, kPre, qInv, kInv, q, k, v, att, a, o, oInv: on?.inv ?? null,
      xMid, h2: n2.y, inv2: n2.inv, g, u, act: actOut, m, mInv: mn?.inv ?? null,
    });
  }
  const nf = normF(x, T, H, 'model.norm.weight');
  const head = headSpec(cfg);
  const logits = linearForward(w, lora, head, nf.y, T); // logits: [T, V], capped below when softcapped
  const cap = cfg.finalLogitSoftcap;
  if (cap !== null) for (let i = 0; i < logits.length; i++) logits[i] = softcap(logits[i]!, cap);

  // ---- loss and dLogits: d(sum of CE / N) = (softmax - onehot) / N, times 1 - tanh^2 through a softcap ----
  let lossSum = 0;
  const dLogits = new Float64Array(T * V); // dLogits: [T, V]
  for (let t = 0; t + 1 < T; t++) {
    const label = labels[t + 1]!;
    if (label === -100) continue;
    if (!Number.isInteger(label) || label < 0 || label >= V) throw new Error(`reference-grad: label ${label} is outside the vocab`);
    let max = -Infinity;
    for (let i = 0; i < V; i++) max = Math.max(max, logits[t * V + i]!);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[t * V + i]! - max);
    lossSum += max + Math.log(sum) - logits[t * V + label]!;
    for (let i = 0; i < V; i++) dLogits[t * V + i] = Math.exp(logits[t * V + i]! - max) / sum / N;
    dLogits[t * V + label]! -= 1 / N;
    if (cap !== null) for (let i = 0; i < V; i++) dLogits[t * V + i]! *= 1 - (logits[t * V + i]! / cap) ** 2;
  }

  // ---- backward ----
  const dxf = linearBackward(w, sink, head, nf.y, dLogits, T);
  let dx = normB(x, nf.inv, T, H, 'model.norm.weight', dxf); // dx: [T, H]

  for (let l = cfg.numLayers - 1; l >= 0; l--) {
    const c = caches[l]!;
    const at = `model.layers.${l}.self_attn`;
    const sp = specs(cfg, l);
    const norms = layerNorms(cfg, l);

    // MLP: x = xMid + [mlpOut norm](down(act(g) * u)), g = gate(h2), u = up(h2), h2 = norm(xMid).
    const dm = norms.mlpOut ? normB(c.m, c.mInv!, T, H, norms.mlpOut, dx) : dx;
    const dAct = linearBackward(w, sink, sp.down_proj, c.act, dm, T);
    const dg = new Float64Array(T * I);
    const du = new Float64Array(T * I);
    for (let i = 0; i < T * I; i++) {
      dg[i] = dAct[i]! * c.u[i]! * actGrad(c.g[i]!);
      du[i] = dAct[i]! * act(c.g[i]!);
    }
    const dh2 = linearBackward(w, sink, sp.gate_proj, c.h2, dg, T);
    const dh2u = linearBackward(w, sink, sp.up_proj, c.h2, du, T);
    for (let i = 0; i < dh2.length; i++) dh2[i]! += dh2u[i]!;
    const dxMid = normB(c.xMid, c.inv2, T, H, norms.mlpIn, dh2);
    for (let i = 0; i < dxMid.length; i++) dxMid[i]! += dx[i]!; // residual

    // Attention: xMid = xIn + [attnOut norm](o_proj(attn(rope(norm?(q)), rope(norm?(k)), v))).
    const dO = norms.attnOut ? normB(c.o, c.oInv!, T, H, norms.attnOut, dxMid) : dxMid;
    const da = linearBackward(w, sink, sp.o_proj, c.a, dO, T);
    const window = layerWindow(cfg, l);
    const { dq, dk, dv } = attentionBackward(cfg, c.q, c.k, c.v, c.att, da, T, window);
    // RoPE is a rotation by angle t * f; its transpose rotates by -t * f, i.e. negated frequencies.
    const negFreq = invFreq[layerRope(cfg, l)].map((f) => -f);
    applyRope(dq, T, nH, D, negFreq);
    applyRope(dk, T, nKV, D, negFreq);
    let dqPre = dq;
    let dkPre = dk;
    if (cfg.qkNorm) {
      dqPre = normB(c.qPre, c.qInv!, T * nH, D, `${at}.q_norm.weight`, dq);
      dkPre = normB(c.kPre, c.kInv!, T * nKV, D, `${at}.k_norm.weight`, dk);
    }
    const dh = linearBackward(w, sink, sp.q_proj, c.h, dqPre, T);
    const dhk = linearBackward(w, sink, sp.k_proj, c.h, dkPre, T);
    const dhv = linearBackward(w, sink, sp.v_proj, c.h, dv, T);
    for (let i = 0; i < dh.length; i++) dh[i]! += dhk[i]! + dhv[i]!;
    dx = normB(c.xIn, c.inv1, T, H, norms.input, dh);
    for (let i = 0; i < dx.length; i++) dx[i]! += dxMid[i]!; // residual
  }

  const dEmbed = fullGrad(sink, 'model.embed_tokens.weight', V * H);
  if (dEmbed) {
    // The input path carries embedScale; the tied head's share (added in linearBackward) does not.
    tokens.forEach((tok, t) => {
      for (let i = 0; i < H; i++) dEmbed[tok * H + i]! += cfg.embedScale * dx[t * H + i]!;
    });
  }
  return lossSum;
}

/** Target tokens of all rows, validating labels as referenceLoss does. */
function countTargets(rows: Rows): number {
  let n = 0;
  for (const row of rows) {
    const labels = row.labels ?? row.inputIds;
    if (labels.length !== row.inputIds.length) {
      throw new Error(`reference-grad: ${labels.length} labels for ${row.inputIds.length} input ids`);
    }
    for (let t = 1; t < labels.length; t++) if (labels[t] !== -100) n++;
  }
  return n;
}

function run(cfg: ModelConfig, w: WeightLookup, rows: Rows, sink: Sink): { loss: number; tokens: number } {
  const N = countTargets(rows);
  let sum = 0;
  for (const row of rows) {
    const labels = row.labels ?? row.inputIds;
    if (!labels.slice(1).some((l) => l !== -100)) continue;
    sum += rowBackward(cfg, w, sink, row.inputIds, labels, N);
  }
  return { loss: N === 0 ? NaN : sum / N, tokens: N };
}

/**
 * Gradient of referenceLoss(cfg, w, rows, lora).loss (mean over all target tokens of all rows,
 * -100 ignored, logits at t predict labels[t+1]) with respect to every LoRA A [r, in] and B [out, r]
 * in `lora`. A module with only A or only B is not applied by the forward; its gradient is zero.
 * With no target tokens the loss is NaN and every gradient is zero.
 */
export function referenceLoraGrads(cfg: ModelConfig, w: WeightLookup, rows: Rows, lora: ReferenceLora): ReferenceGrads {
  const gradA = new Map<string, Float64Array>();
  const gradB = new Map<string, Float64Array>();
  for (const [name, a] of lora.a) gradA.set(name, new Float64Array(a.length));
  for (const [name, b] of lora.b) gradB.set(name, new Float64Array(b.length));
  const { loss, tokens } = run(cfg, w, rows, { lora, gradA, gradB, full: null });
  return { loss, tokens, gradA, gradB };
}

/**
 * Full fine-tuning: gradient of the same loss with respect to every tensor of modelParams(cfg)
 * (embeddings, every linear weight and bias, every norm weight incl. q_norm / k_norm, lm_head when
 * untied; with tied embeddings the embedding gradient includes the LM head's contribution).
 */
export function referenceFullGrads(cfg: ModelConfig, w: WeightLookup, rows: Rows): { loss: number; tokens: number; grads: Map<string, Float64Array> } {
  const grads = new Map<string, Float64Array>();
  for (const { name, shape } of modelParams(cfg)) grads.set(name, new Float64Array(shape.reduce((a, b) => a * b, 1)));
  const { loss, tokens } = run(cfg, w, rows, { lora: undefined, gradA: new Map(), gradB: new Map(), full: grads });
  return { loss, tokens, grads };
}
