// The float64 reference on Gemma 3 against the model written out by hand from transformers'
// modeling_gemma3.py (the oracle's oracle): scaled embeddings, (1 + w) norms, q/k norms, per-layer
// RoPE bases, query_pre_attn_scalar, sliding vs full layers, the post-attention and feed-forward norms,
// GeGLU and both softcaps; plus the facts each part implies (windows, every tensor used, caps bound).
// Dimension key: T = tokens, V = vocab, H = hidden, I = intermediate, nH/nKV = heads, D = head dim.

import { describe, expect, it } from 'vitest';
import { gemmaEmbedScale } from '../../src/model/config-gemma3.ts';
import { parseModelConfig, type ModelConfig } from '../../src/model/config.ts';
import { loadReferenceWeights, referenceLogits, type WeightLookup } from '../../src/model/reference.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';

function model(o: TestModelOptions): { cfg: ModelConfig; w: WeightLookup; files: Map<string, Uint8Array> } {
  const files = makeTestModel(o);
  return { cfg: parseModelConfig(new TextDecoder().decode(files.get('config.json'))), w: loadReferenceWeights(files), files };
}

const overlay = (w: WeightLookup, over: Record<string, Float64Array>): WeightLookup => (name) => over[name] ?? w(name);
const row = (x: Float64Array, t: number, n: number) => x.subarray(t * n, (t + 1) * n);
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

// Helpers of the hand-written model, apart from the reference's own code.
const matVec = (W: Float64Array, x: Float64Array, out: number, b?: Float64Array) =>
  Float64Array.from({ length: out }, (_, o) => x.reduce((s, xi, i) => s + W[o * x.length + i]! * xi, b ? b[o]! : 0));
/** Gemma3RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + w). */
const gemmaNorm = (x: Float64Array, w: Float64Array, eps: number) => {
  const r = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + eps);
  return x.map((v, i) => v * r * (1 + w[i]!));
};
const add = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]!);
const cap = (x: number, c: number | null) => (c === null ? x : c * Math.tanh(x / c));
/** torch's gelu(approximate="tanh"). */
const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/**
 * Gemma3ForCausalLM written out position by position. `rope` gives each layer's inverse frequencies:
 * the test states them (local base for sliding layers, rope_theta / factor for full ones) rather than
 * asking the engine's ropeInvFreq.
 */
function handLogits(cfg: ModelConfig, w: WeightLookup, tokens: number[], invFreq: (l: number) => number[], sliding: (l: number) => boolean): Float64Array[] {
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: nKV, headDim: D, vocabSize: V, rmsNormEps: eps } = cfg;
  const g = (n: string) => w(n)!;
  const opt = (n: string) => w(n);
  const E = g('model.embed_tokens.weight');
  let xs = tokens.map((tok) => E.slice(tok * H, (tok + 1) * H).map((v) => v * cfg.embedScale));
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}`;
    const at = `${p}.self_attn`;
    const inv = invFreq(l);
    const heads = (x: Float64Array, n: number, pos: number, norm: Float64Array) =>
      Array.from({ length: n }, (_, h) => {
        const v = gemmaNorm(x.slice(h * D, (h + 1) * D), norm, eps);
        const r = new Float64Array(D);
        for (let d = 0; d < D / 2; d++) {
          const c = Math.cos(pos * inv[d]!);
          const sn = Math.sin(pos * inv[d]!);
          r[d] = v[d]! * c - v[d + D / 2]! * sn;
          r[d + D / 2] = v[d + D / 2]! * c + v[d]! * sn;
        }
        return r;
      });
    const hs = xs.map((x) => gemmaNorm(x, g(`${p}.input_layernorm.weight`), eps));
    const proj = (m: string, h: Float64Array, n: number) => matVec(g(`${at}.${m}.weight`), h, n, opt(`${at}.${m}.bias`));
    const qs = hs.map((h, t) => heads(proj('q_proj', h, nH * D), nH, t, g(`${at}.q_norm.weight`)));
    const ks = hs.map((h, t) => heads(proj('k_proj', h, nKV * D), nKV, t, g(`${at}.k_norm.weight`)));
    const vs = hs.map((h) => proj('v_proj', h, nKV * D));
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
    xs = xs.map((x, t) => {
      const a = new Float64Array(nH * D);
      for (let h = 0; h < nH; h++) {
        const kv = Math.floor(h / (nH / nKV));
        // sliding_window_overlay: kv_idx > q_idx - sliding_window.
        const visible = [...Array(t + 1).keys()].filter((s) => !sliding(l) || s > t - cfg.slidingWindow!);
        const e = visible.map((s) => Math.exp(cap(dot(qs[t]![h]!, ks[s]![kv]!) * cfg.attentionScale, cfg.attnLogitSoftcap)));
        const z = e.reduce((q, v) => q + v, 0);
        for (let d = 0; d < D; d++) a[h * D + d] = visible.reduce((q, s, i) => q + (e[i]! / z) * vs[s]![kv * D + d]!, 0);
      }
      const attn = gemmaNorm(matVec(g(`${at}.o_proj.weight`), a, H, opt(`${at}.o_proj.bias`)), g(`${p}.post_attention_layernorm.weight`), eps);
      const x1 = add(x, attn);
      const h2 = gemmaNorm(x1, g(`${p}.pre_feedforward_layernorm.weight`), eps);
      const gate = matVec(g(`${p}.mlp.gate_proj.weight`), h2, I);
      const up = matVec(g(`${p}.mlp.up_proj.weight`), h2, I);
      const mlp = matVec(g(`${p}.mlp.down_proj.weight`), gate.map((v, i) => gelu(v) * up[i]!), H);
      return add(x1, gemmaNorm(mlp, g(`${p}.post_feedforward_layernorm.weight`), eps));
    });
  }
  const head = cfg.tieWordEmbeddings ? E : g('lm_head.weight');
  return xs.map((x) => matVec(head, gemmaNorm(x, g('model.norm.weight'), eps), V).map((v) => cap(v, cfg.finalLogitSoftcap)));
}

const theta = (base: number, D: number, factor = 1) => Array.from({ length: D / 2 }, (_, j) => base ** (-(2 * j) / D) / factor);

describe('Gemma 3 reference vs the model written out by hand', () => {
  // Pattern 2: layer 0 slides (window 3), layer 1 attends to everything; 8 tokens reach past the window.
  const tokens = [3, 150, 42, 260, 9, 9, 311, 77];
  const cases: [string, TestModelOptions, number][] = [
    ['tied, default rope', { architecture: 'gemma3', numLayers: 2, slidingWindowPattern: 2, slidingWindow: 3, ropeTheta: 5e5, ropeLocalTheta: 100 }, 1],
    [
      'untied, linear rope, softcaps, attention bias, nKV 1, head dim 12',
      { architecture: 'gemma3', numLayers: 2, slidingWindowPattern: 2, slidingWindow: 3, ropeTheta: 5e5, ropeLocalTheta: 100, ropeScaling: 'linear', attnLogitSoftcap: 1.5, finalLogitSoftcap: 4, tied: false, attentionBias: true, numKvHeads: 1, headDim: 12 },
      8,
    ],
  ];

  it.each(cases)('%s', (_label, o, factor) => {
    const { cfg, w } = model(o);
    expect(cfg.layerAttention).toEqual(['sliding', 'full']);
    const D = cfg.headDim;
    const invFreq = (l: number) => (l === 0 ? theta(100, D) : theta(5e5, D, factor));
    const got = referenceLogits(cfg, w, tokens);
    handLogits(cfg, w, tokens, invFreq, (l) => l === 0).forEach((want, t) => {
      expect(maxAbsDiff(row(got, t, cfg.vocabSize), want), `t=${t}`).toBeLessThan(1e-11);
    });
  });

  it('a hand model that skips any one Gemma part disagrees (the comparison can fail)', () => {
    const { cfg, w } = model(cases[1]![1]);
    const D = cfg.headDim;
    const invFreq = (l: number) => (l === 0 ? theta(100, D) : theta(5e5, D, 8));
    const got = referenceLogits(cfg, w, tokens);
    const far = (c: ModelConfig, f = invFreq, sliding: (l: number) => boolean = (l) => l === 0) => {
      const want = handLogits(c, w, tokens, f, sliding);
      return Math.max(...want.map((r, t) => maxAbsDiff(row(got, t, cfg.vocabSize), r)));
    };
    expect(far(cfg)).toBeLessThan(1e-11);
    expect(far({ ...cfg, embedScale: 1 })).toBeGreaterThan(1e-3);
    expect(far({ ...cfg, attentionScale: 1 / Math.sqrt(D) })).toBeGreaterThan(1e-3);
    expect(far({ ...cfg, attnLogitSoftcap: null })).toBeGreaterThan(1e-3);
    expect(far({ ...cfg, finalLogitSoftcap: null })).toBeGreaterThan(1e-3);
    expect(far(cfg, (l) => theta(l === 0 ? 5e5 : 100, D))).toBeGreaterThan(1e-3); // bases swapped
    expect(far(cfg, invFreq, () => false)).toBeGreaterThan(1e-3); // no window
    expect(far(cfg, invFreq, () => true)).toBeGreaterThan(1e-3); // window on the full layer too
  });
});

describe('Gemma 3 reference facts', () => {
  const tokens = [5, 100, 200, 300, 7, 8, 9, 250, 11, 12];

  it('a sliding layer hides keys at distance >= window; a full layer sees them', () => {
    // One layer: sliding with pattern 6, full with pattern 1.
    for (const [pattern, hidden] of [[6, true], [1, false]] as const) {
      const { cfg, w } = model({ architecture: 'gemma3', numLayers: 1, slidingWindow: 3, slidingWindowPattern: pattern });
      const V = cfg.vocabSize;
      const a = referenceLogits(cfg, w, tokens);
      const changed = [...tokens];
      changed[2] = 77;
      const b = referenceLogits(cfg, w, changed);
      expect(maxAbsDiff(row(a, 4, V), row(b, 4, V))).toBeGreaterThan(1e-3); // distance 2 < 3
      for (let t = 5; t < tokens.length; t++) {
        if (hidden) expect(row(b, t, V), `t=${t}`).toEqual(row(a, t, V));
        else expect(maxAbsDiff(row(a, t, V), row(b, t, V)), `t=${t}`).toBeGreaterThan(1e-6);
      }
    }
  });

  it('uses every tensor of the checkpoint (the norms as 1 + w: zero offsets still matter)', () => {
    const o: TestModelOptions = { architecture: 'gemma3', numLayers: 2, slidingWindowPattern: 2, slidingWindow: 3 };
    const { cfg, w, files } = model(o);
    const bytes = files.get('model.safetensors')!;
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const names = Object.keys(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as object).filter((k) => k !== '__metadata__');
    expect(names.filter((k) => k.includes('feedforward_layernorm'))).toHaveLength(4);
    const logits = referenceLogits(cfg, w, tokens);
    for (const name of names) {
      const t = w(name)!;
      expect(maxAbsDiff(referenceLogits(cfg, overlay(w, { [name]: t.map((v, i) => v + 0.05 * Math.cos(i)) }), tokens), logits), name).toBeGreaterThan(1e-6);
    }
    // All-zero offsets are unit norms, not zero norms: the logits stay finite and nonzero.
    const zeros = Object.fromEntries(names.filter((k) => k.endsWith('norm.weight')).map((k) => [k, new Float64Array(w(k)!.length)]));
    const unit = referenceLogits(cfg, overlay(w, zeros), tokens);
    expect(unit.every(Number.isFinite) && unit.some((v) => Math.abs(v) > 1e-2)).toBe(true);
  });

  it('the final softcap bounds the logits; the cap of the attention scores changes them', () => {
    const { cfg, w } = model({ architecture: 'gemma3', numLayers: 2, finalLogitSoftcap: 2, attnLogitSoftcap: 1 });
    const capped = referenceLogits(cfg, w, tokens);
    expect(Math.max(...capped.map(Math.abs))).toBeLessThan(2);
    const free = referenceLogits({ ...cfg, finalLogitSoftcap: null }, w, tokens);
    expect(Math.max(...free.map(Math.abs))).toBeGreaterThan(2);
    capped.forEach((v, i) => expect(v).toBeCloseTo(2 * Math.tanh(free[i]! / 2), 12));
    expect(maxAbsDiff(referenceLogits({ ...cfg, attnLogitSoftcap: null }, w, tokens), capped)).toBeGreaterThan(1e-3);
  });
});

describe('embed_scale: sqrt(hidden_size) rounded to the weight dtype (embed_scale.to(weight.dtype))', () => {
  it.each([
    [640, 'BF16', 25.25],
    [1152, 'BF16', 34],
    [2560, 'BF16', 50.5],
    [640, 'F16', 25.296875],
    [1152, 'F16', 33.9375],
    [640, 'F32', Math.fround(Math.sqrt(640))],
    [16, 'BF16', 4],
  ] as const)('hidden %i in %s is %f', (H, dtype, want) => {
    expect(gemmaEmbedScale(H, dtype)).toBe(want);
  });

  it("config.json's torch_dtype picks the rounding when the weights are not at hand", () => {
    for (const [dtype, want] of [['BF16', 4], ['F32', 4]] as const) {
      expect(model({ architecture: 'gemma3', hiddenSize: 16, numHeads: 2, headDim: 8, dtype }).cfg.embedScale).toBe(want);
    }
    expect(model({ architecture: 'gemma3', hiddenSize: 40, numHeads: 4, headDim: 8, dtype: 'BF16' }).cfg.embedScale).toBe(6.3125);
    expect(model({ architecture: 'gemma3', hiddenSize: 40, numHeads: 4, headDim: 8, dtype: 'F32' }).cfg.embedScale).toBe(Math.fround(Math.sqrt(40)));
  });
});
