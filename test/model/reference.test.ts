// Invariants of the float64 reference model, each one able to fail: hand-computed cases, RoPE
// frequencies, causality, tying, LoRA, the loss convention and greedy decoding.
// Dimension key: T = tokens, V = vocab, H = hidden, I = intermediate, nH/nKV = heads, D = head dim.

import { describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../../src/model/config.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import {
  applyRope,
  loadReferenceWeights,
  referenceGreedy,
  referenceLogits,
  referenceLoss,
  ropeInvFreq,
  type ReferenceLora,
  type WeightLookup,
} from '../../src/model/reference.ts';

function model(o: TestModelOptions): { cfg: ModelConfig; w: WeightLookup } {
  const files = makeTestModel(o);
  return { cfg: parseModelConfig(new TextDecoder().decode(files.get('config.json'))), w: loadReferenceWeights(files) };
}

function overlay(w: WeightLookup, over: Record<string, Float64Array | undefined>): WeightLookup {
  return (name) => (name in over ? over[name] : w(name));
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const row = (x: Float64Array, t: number, n: number) => x.subarray(t * n, (t + 1) * n);

// Small helpers for the hand-written model below, kept apart from the reference's own code.
const matVec = (W: Float64Array, x: Float64Array, out: number, b?: Float64Array) =>
  Float64Array.from({ length: out }, (_, o) => x.reduce((s, xi, i) => s + W[o * x.length + i]! * xi, b ? b[o]! : 0));
const rms = (x: Float64Array, g: Float64Array, eps: number) => {
  const r = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + eps);
  return x.map((v, i) => v * r * g[i]!);
};
const add = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]!);

/**
 * One decoder layer written out by hand, position by position. With `attendSelfOnly` the
 * attention output of head h is just v of kv head floor(h / G) at the same position (what a single
 * token must give, RoPE and scores aside).
 */
function oneLayerLogits(cfg: ModelConfig, w: WeightLookup, tokens: number[], attendSelfOnly = false): Float64Array[] {
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: nKV, headDim: D, vocabSize: V, rmsNormEps: eps } = cfg;
  const g = (n: string) => w(n)!;
  const opt = (n: string) => w(n);
  const at = 'model.layers.0.self_attn';
  const mlp = 'model.layers.0.mlp';
  const inv = ropeInvFreq(cfg);
  // Per head: optional q/k norm, then rotate (d, d + D/2) by angle pos * inv[d].
  const heads = (x: Float64Array, n: number, pos: number, norm?: Float64Array) =>
    Array.from({ length: n }, (_, h) => {
      let v = x.slice(h * D, (h + 1) * D);
      if (norm) v = rms(v, norm, eps);
      const r = new Float64Array(D);
      for (let d = 0; d < D / 2; d++) {
        const c = Math.cos(pos * inv[d]!);
        const sn = Math.sin(pos * inv[d]!);
        r[d] = v[d]! * c - v[d + D / 2]! * sn;
        r[d + D / 2] = v[d + D / 2]! * c + v[d]! * sn;
      }
      return r;
    });
  const xs = tokens.map((tok) => g('model.embed_tokens.weight').slice(tok * H, (tok + 1) * H));
  const hs = xs.map((x) => rms(x, g('model.layers.0.input_layernorm.weight'), eps));
  const proj = (m: string, h: Float64Array, n: number) => matVec(g(`${at}.${m}.weight`), h, n, opt(`${at}.${m}.bias`));
  const qs = hs.map((h, t) => heads(proj('q_proj', h, nH * D), nH, t, opt(`${at}.q_norm.weight`)));
  const ks = hs.map((h, t) => heads(proj('k_proj', h, nKV * D), nKV, t, opt(`${at}.k_norm.weight`)));
  const vs = hs.map((h) => proj('v_proj', h, nKV * D));
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
  return xs.map((x, t) => {
    const a = new Float64Array(nH * D);
    for (let h = 0; h < nH; h++) {
      const kv = Math.floor(h / (nH / nKV));
      const visible = [...Array(t + 1).keys()].filter((s) => cfg.slidingWindow === null || t - s < cfg.slidingWindow);
      const e = visible.map((s) => Math.exp(dot(qs[t]![h]!, ks[s]![kv]!) / Math.sqrt(D)));
      const z = e.reduce((p, v) => p + v, 0);
      for (let d = 0; d < D; d++) {
        a[h * D + d] = attendSelfOnly ? vs[t]![kv * D + d]! : visible.reduce((p, s, i) => p + (e[i]! / z) * vs[s]![kv * D + d]!, 0);
      }
    }
    const x1 = add(x, matVec(g(`${at}.o_proj.weight`), a, H, opt(`${at}.o_proj.bias`)));
    const h2 = rms(x1, g('model.layers.0.post_attention_layernorm.weight'), eps);
    const gate = matVec(g(`${mlp}.gate_proj.weight`), h2, I, opt(`${mlp}.gate_proj.bias`));
    const up = matVec(g(`${mlp}.up_proj.weight`), h2, I, opt(`${mlp}.up_proj.bias`));
    const act = gate.map((v, i) => (v / (1 + Math.exp(-v))) * up[i]!);
    const x2 = add(x1, matVec(g(`${mlp}.down_proj.weight`), act, H, opt(`${mlp}.down_proj.bias`)));
    const head = cfg.tieWordEmbeddings ? g('model.embed_tokens.weight') : g('lm_head.weight');
    return matVec(head, rms(x2, g('model.norm.weight'), eps), V);
  });
}

describe('hand-checked one-layer cases', () => {
  const cases: TestModelOptions[] = [
    { architecture: 'llama', numLayers: 1, attentionBias: true, mlpBias: true, ropeScaling: 'llama3' },
    { architecture: 'mistral', numLayers: 1, slidingWindow: 3 },
    { architecture: 'qwen2', numLayers: 1, tied: true },
    { architecture: 'qwen3', numLayers: 1, headDim: 12, numKvHeads: 1 },
  ];

  it.each(cases)('a single token attends only to itself: attention = its v projection (%j)', (o) => {
    const { cfg, w } = model(o);
    for (const tok of [0, 17, 300]) {
      const [want] = oneLayerLogits(cfg, w, [tok], true);
      expect(maxAbsDiff(referenceLogits(cfg, w, [tok]), want!)).toBeLessThan(1e-12);
    }
  });

  it.each(cases)('matches the layer written out by hand over 7 tokens (%j)', (o) => {
    const { cfg, w } = model(o);
    const tokens = [3, 150, 42, 260, 9, 9, 311];
    const got = referenceLogits(cfg, w, tokens);
    oneLayerLogits(cfg, w, tokens).forEach((want, t) => {
      expect(maxAbsDiff(row(got, t, cfg.vocabSize), want), `t=${t}`).toBeLessThan(1e-12);
    });
  });

  it('with q = 0 every query averages the values it can see', () => {
    const { cfg, w } = model({ architecture: 'llama', numLayers: 1 });
    const n = cfg.numHeads * cfg.headDim * cfg.hiddenSize;
    const zq = overlay(w, { 'model.layers.0.self_attn.q_proj.weight': new Float64Array(n) });
    const tokens = [3, 150, 42];
    // Every score is 0, so each row attends with equal weights; row 0 is the one-token model.
    const got = referenceLogits(cfg, zq, tokens);
    expect(maxAbsDiff(row(got, 0, cfg.vocabSize), referenceLogits(cfg, zq, [3]))).toBe(0);
    oneLayerLogits(cfg, zq, tokens).forEach((want, t) => expect(maxAbsDiff(row(got, t, cfg.vocabSize), want)).toBeLessThan(1e-12));
  });
});

describe('RoPE', () => {
  const base = (extra: Record<string, unknown>) =>
    parseModelConfig(
      JSON.stringify({
        architectures: ['LlamaForCausalLM'],
        vocab_size: 8,
        hidden_size: 64,
        intermediate_size: 8,
        num_hidden_layers: 1,
        num_attention_heads: 4,
        head_dim: 16,
        rope_theta: 10000,
        ...extra,
      }),
    );

  it('default frequencies are theta^(-2j/D)', () => {
    const inv = ropeInvFreq(base({}));
    expect(inv).toHaveLength(8);
    inv.forEach((f, j) => expect(f).toBeCloseTo(10000 ** (-j / 8), 15));
  });

  it('llama3 scaling matches values computed by hand', () => {
    // D = 16, theta = 1e4, factor 8, low 1, high 4, original context 32: wavelength bounds 8 and 32.
    // j = 0: wavelength 2*pi < 8, kept. j = 1: wavelength 2*pi*sqrt(10) = 19.87, smoothed with
    // s = (32 / 19.87 - 1) / 3 = 0.2035116, giving 0.31623 * ((1 - s) / 8 + s). j >= 2: divided by 8.
    const cfg = base({
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 },
    });
    const want = [1, 0.09583998588296266, 0.0125, 0.003952847075210474, 0.00125, 0.00039528470752104737, 0.000125, 3.952847075210474e-5];
    Array.from(ropeInvFreq(cfg)).forEach((f, j) => expect(f, `j=${j}`).toBeCloseTo(want[j]!, 15));
  });

  it('the test model llama3 config scales its frequencies at head dim 8', () => {
    const { cfg } = model({ architecture: 'llama', ropeScaling: 'llama3' });
    const scaled = ropeInvFreq(cfg);
    const plain = ropeInvFreq({ ...cfg, ropeScaling: { type: 'default' } });
    expect(scaled[0]).toBeLessThan(plain[0]!); // smoothed
    expect(scaled[0]).toBeGreaterThan(plain[0]! / 8);
    for (let j = 1; j < 4; j++) expect(scaled[j]).toBeCloseTo(plain[j]! / 8, 15);
  });

  it('rotates halves, not adjacent pairs, and leaves position 0 alone', () => {
    const inv = Float64Array.of(1, 0.01);
    const x = Float64Array.of(1, 2, 3, 4, /* t = 1 */ 1, 0, 0, 0); // [T = 2, heads = 1, D = 4]
    applyRope(x, 2, 1, 4, inv);
    expect(Array.from(x.subarray(0, 4))).toEqual([1, 2, 3, 4]);
    expect(x[4]).toBeCloseTo(Math.cos(1), 15);
    expect(x[5]).toBe(0);
    expect(x[6]).toBeCloseTo(Math.sin(1), 15);
    expect(x[7]).toBe(0);
  });

  it('makes q.k depend only on the distance between positions', () => {
    const inv = ropeInvFreq(base({}));
    const D = 16;
    const q = Float64Array.from({ length: D }, (_, i) => Math.sin(i + 1));
    const k = Float64Array.from({ length: D }, (_, i) => Math.cos(3 * i));
    const at = (v: Float64Array, pos: number) => {
      const x = new Float64Array((pos + 1) * D);
      x.set(v, pos * D);
      applyRope(x, pos + 1, 1, D, inv);
      return x.subarray(pos * D);
    };
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
    expect(dot(at(q, 7), at(k, 3))).toBeCloseTo(dot(at(q, 14), at(k, 10)), 12);
    expect(Math.abs(dot(at(q, 7), at(k, 3)) - dot(at(q, 7), at(k, 4)))).toBeGreaterThan(1e-3);
  });
});

describe('whole model', () => {
  const tokens = [5, 100, 200, 300, 7, 8, 9, 250];

  it('uses every tensor in the checkpoint', () => {
    for (const o of [
      { architecture: 'llama', attentionBias: true, mlpBias: true },
      { architecture: 'qwen2', tied: true },
      { architecture: 'qwen3' },
    ] as TestModelOptions[]) {
      const files = makeTestModel(o);
      const { cfg, w } = model(o);
      const bytes = files.get('model.safetensors')!;
      const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      const names = Object.keys(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as object).filter((k) => k !== '__metadata__');
      expect(names.length).toBeGreaterThan(20);
      const logits = referenceLogits(cfg, w, tokens);
      for (const name of names) {
        const t = w(name)!;
        const bumped = overlay(w, { [name]: t.map((v, i) => v + 0.05 * Math.cos(i)) });
        expect(maxAbsDiff(referenceLogits(cfg, bumped, tokens), logits), name).toBeGreaterThan(1e-6);
      }
    }
  });

  it('is causal: logits at t do not see tokens after t', () => {
    for (const arch of ['llama', 'mistral', 'qwen2', 'qwen3'] as const) {
      const { cfg, w } = model({ architecture: arch });
      const V = cfg.vocabSize;
      const a = referenceLogits(cfg, w, tokens);
      const b = referenceLogits(cfg, w, [...tokens.slice(0, 4), 11, 12, 13, 14]);
      for (let t = 0; t < 4; t++) expect(row(b, t, V)).toEqual(row(a, t, V));
      expect(maxAbsDiff(row(a, 4, V), row(b, 4, V))).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(row(a, 7, V), row(b, 7, V))).toBeGreaterThan(1e-3);
    }
  });

  it('a sliding window hides keys at distance >= window (one layer)', () => {
    const { cfg, w } = model({ architecture: 'mistral', numLayers: 1, slidingWindow: 2 });
    expect(cfg.slidingWindow).toBe(2);
    const V = cfg.vocabSize;
    const a = referenceLogits(cfg, w, tokens);
    const changed = [...tokens];
    changed[2] = 77;
    const b = referenceLogits(cfg, w, changed);
    expect(row(b, 1, V)).toEqual(row(a, 1, V));
    expect(maxAbsDiff(row(a, 2, V), row(b, 2, V))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(row(a, 3, V), row(b, 3, V))).toBeGreaterThan(1e-3); // t - s = 1 < 2
    for (let t = 4; t < tokens.length; t++) expect(row(b, t, V)).toEqual(row(a, t, V));
    // A window as long as the sequence is plain causal attention.
    const full = referenceLogits({ ...cfg, slidingWindow: null }, w, tokens);
    expect(referenceLogits({ ...cfg, slidingWindow: tokens.length }, w, tokens)).toEqual(full);
    expect(maxAbsDiff(full, a)).toBeGreaterThan(1e-3);
  });

  it('tied models use embed_tokens as the output matrix; untied ones need lm_head', () => {
    const { cfg, w } = model({ architecture: 'llama' });
    const untied = referenceLogits(cfg, w, tokens);
    const embedAsHead = overlay(w, { 'lm_head.weight': w('model.embed_tokens.weight') });
    const viaHead = referenceLogits(cfg, embedAsHead, tokens);
    const tiedCfg = { ...cfg, tieWordEmbeddings: true };
    expect(referenceLogits(tiedCfg, w, tokens)).toEqual(viaHead);
    expect(referenceLogits(tiedCfg, overlay(w, { 'lm_head.weight': undefined }), tokens)).toEqual(viaHead);
    expect(maxAbsDiff(untied, viaHead)).toBeGreaterThan(1e-3);
    expect(() => referenceLogits(cfg, overlay(w, { 'lm_head.weight': undefined }), tokens)).toThrow(/lm_head\.weight/);
    // And a model written tied matches.
    const tied = model({ architecture: 'llama', tied: true });
    expect(tied.cfg.tieWordEmbeddings).toBe(true);
    expect(referenceLogits(tied.cfg, tied.w, tokens)).toEqual(viaHead);
  });

  it('reads shards and F16 files into the same (rounded) values', () => {
    const a = model({ architecture: 'qwen2' });
    const s = model({ architecture: 'qwen2', shards: 3 });
    expect(referenceLogits(s.cfg, s.w, tokens)).toEqual(referenceLogits(a.cfg, a.w, tokens));
    const h = model({ architecture: 'qwen2', dtype: 'F16' });
    const diff = maxAbsDiff(referenceLogits(h.cfg, h.w, tokens), referenceLogits(a.cfg, a.w, tokens));
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(0.05);
  });

  it('rejects tokens outside the vocab and tensors of the wrong size', () => {
    const { cfg, w } = model({ architecture: 'llama' });
    expect(() => referenceLogits(cfg, w, [cfg.vocabSize])).toThrow(/outside the vocab/);
    expect(() => referenceLogits(cfg, overlay(w, { 'model.norm.weight': new Float64Array(3) }), [1])).toThrow(/model\.norm\.weight/);
  });
});

describe('LoRA', () => {
  const { cfg, w } = model({ architecture: 'qwen2', attentionBias: true });
  const tokens = [1, 50, 99, 300, 12];
  const r = 2;
  const modules: [string, number, number][] = [
    ['model.layers.0.self_attn.q_proj', cfg.hiddenSize, cfg.numHeads * cfg.headDim],
    ['model.layers.1.self_attn.v_proj', cfg.hiddenSize, cfg.numKvHeads * cfg.headDim],
    ['model.layers.1.mlp.down_proj', cfg.intermediateSize, cfg.hiddenSize],
  ];
  const lora = (bScale: number): ReferenceLora => ({
    scaling: 2,
    rank: r,
    a: new Map(modules.map(([m, nIn], k) => [m, Float64Array.from({ length: r * nIn }, (_, i) => Math.sin(i + k) / Math.sqrt(nIn))])),
    b: new Map(modules.map(([m, , nOut], k) => [m, Float64Array.from({ length: nOut * r }, (_, i) => bScale * Math.cos(i * 0.7 + k))])),
  });

  it('a zero B leaves the logits exactly unchanged', () => {
    expect(referenceLogits(cfg, w, tokens, lora(0))).toEqual(referenceLogits(cfg, w, tokens));
  });

  it('a nonzero B changes them, and equals merging W + scaling * B A', () => {
    const l = lora(0.1);
    const withLora = referenceLogits(cfg, w, tokens, l);
    expect(maxAbsDiff(withLora, referenceLogits(cfg, w, tokens))).toBeGreaterThan(1e-3);
    const merged: Record<string, Float64Array> = {};
    for (const [m, nIn, nOut] of modules) {
      const W = w(`${m}.weight`)!.slice();
      const A = l.a.get(m)!;
      const B = l.b.get(m)!;
      for (let o = 0; o < nOut; o++) for (let i = 0; i < nIn; i++) for (let k = 0; k < r; k++) W[o * nIn + i]! += l.scaling * B[o * r + k]! * A[k * nIn + i]!;
      merged[`${m}.weight`] = W;
    }
    expect(maxAbsDiff(referenceLogits(cfg, overlay(w, merged), tokens), withLora)).toBeLessThan(1e-12);
  });

  it('rejects adapters of the wrong shape', () => {
    const l = lora(0.1);
    l.a.set(modules[0]![0], new Float64Array(3));
    expect(() => referenceLogits(cfg, w, tokens, l)).toThrow(/LoRA.*q_proj/);
  });
});

describe('loss and greedy decoding', () => {
  const { cfg, w } = model({ architecture: 'llama' });
  const V = cfg.vocabSize;
  const ce = (logits: Float64Array, t: number, label: number) => {
    const r = row(logits, t, V);
    const m = Math.max(...r);
    return m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0)) - r[label]!;
  };

  it('logits at t predict labels[t + 1]; labels default to the inputs', () => {
    const ids = [4, 40, 140, 240];
    const logits = referenceLogits(cfg, w, ids);
    const want = (ce(logits, 0, 40) + ce(logits, 1, 140) + ce(logits, 2, 240)) / 3;
    const got = referenceLoss(cfg, w, [{ inputIds: ids }]);
    expect(got.tokens).toBe(3);
    expect(got.loss).toBeCloseTo(want, 12);
    expect(referenceLoss(cfg, w, [{ inputIds: ids, labels: ids }])).toEqual(got);
  });

  it('ignores -100 and averages over all target tokens of all rows', () => {
    const a = [4, 40, 140, 240, 340];
    const b = [9, 19];
    const la = referenceLogits(cfg, w, a);
    const lb = referenceLogits(cfg, w, b);
    // Row a: only labels[2] = 140 and labels[4] = 77 count; row b: labels[1] = 19.
    const rows = [
      { inputIds: a, labels: [-100, -100, 140, -100, 77] },
      { inputIds: b, labels: [-100, 19] },
    ];
    const got = referenceLoss(cfg, w, rows);
    expect(got.tokens).toBe(3);
    expect(got.loss).toBeCloseTo((ce(la, 1, 140) + ce(la, 3, 77) + ce(lb, 0, 19)) / 3, 12);
    // Not a mean of row means.
    const rowMeans = ((ce(la, 1, 140) + ce(la, 3, 77)) / 2 + ce(lb, 0, 19)) / 2;
    expect(Math.abs(got.loss - rowMeans)).toBeGreaterThan(1e-6);
    // labels[0] is never a target.
    expect(referenceLoss(cfg, w, [{ inputIds: b, labels: [5, -100] }])).toEqual({ loss: NaN, tokens: 0 });
  });

  it('greedy decoding appends the argmax of the last position, recomputed each step', () => {
    const prompt = [3, 120, 240];
    const out = referenceGreedy({ ...cfg, eosTokenIds: [] }, w, prompt, 5);
    expect(out).toHaveLength(5);
    const seq = [...prompt];
    for (const tok of out) {
      const last = row(referenceLogits(cfg, w, seq), seq.length - 1, V);
      expect(tok).toBe(last.indexOf(Math.max(...last)));
      seq.push(tok);
    }
  });

  it('stops after emitting an eos id, which it includes', () => {
    const prompt = [3, 120, 240];
    const free = referenceGreedy({ ...cfg, eosTokenIds: [] }, w, prompt, 4);
    const eos = free[1]!;
    const stopped = referenceGreedy({ ...cfg, eosTokenIds: [eos] }, w, prompt, 4);
    expect(stopped).toEqual(free.slice(0, free.indexOf(eos) + 1));
    expect(referenceGreedy(cfg, w, prompt, 0)).toEqual([]);
  });
});
