// Scenario "train", the peer: the same LoRA step written with TensorFlow.js autodiff on its WebGPU
// backend, on the engine's own GPUDevice. Same model (the bench model's safetensors, read again:
// the same f16 values, held as f32 because TensorFlow.js's WebGPU matmuls have no 16-bit weight
// path), same LoRA initial values (initLora with the same seed), same batch of tokens, same loss
// (mean cross-entropy over next-token targets), gradients of the LoRA A and B matrices only through
// tf.variableGrads, then AdamW as the trainer does it (global-norm clip, bias-corrected moments).
// No activation checkpointing: TensorFlow.js keeps every activation its tape needs.
// Dimension key: B = sequences, T = tokens per sequence, R = B*T, H = hidden, I = intermediate,
// V = vocab, nH = query heads, nKV = kv heads, G = nH / nKV, D = head dim, r = LoRA rank.

import type { Scalar, Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { bytesSource } from '../formats/byte-source.ts';
import { toFloat32 } from '../formats/dtype.ts';
import { readSafetensorsHeader } from '../formats/safetensors.ts';
import { ropeTable } from '../kernels/rope.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import type { ModelConfig } from '../model/config.ts';
import { ropeInvFreq } from '../model/rope-freqs.ts';
import type { AdamWSettings } from '../train/optimizer.ts';
import type { Tf } from './tfjs.ts';

export interface TfjsLoraSpec {
  cfg: ModelConfig;
  /** The frozen weights by Hugging Face name (the bench model's own safetensors), as f32. */
  weights: F32Lookup;
  /** Initial A [r, in] and B [out, r] of every adapted module, and its scaling. */
  lora: LoraWeights;
  B: number;
  T: number;
  adamw: AdamWSettings & { lr: number };
}

export interface TfjsLoraStep {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

export interface TfjsLoraModel {
  /** One training step on B rows of T token ids; resolves once the GPU is done and the loss is read back. */
  step(rows: number[][]): Promise<TfjsLoraStep>;
  /** Live tensors of the TensorFlow.js engine (constant from step to step if nothing leaks). */
  numTensors(): number;
  dispose(): void;
}

export type F32Lookup = (name: string) => Float32Array | undefined;

/** The float tensors of a model folder's safetensors (one file or shards), decoded to f32 on demand. */
export async function safetensorsF32(files: Map<string, Uint8Array>): Promise<F32Lookup> {
  const index = files.get('model.safetensors.index.json');
  const names = index
    ? [...new Set(Object.values((JSON.parse(new TextDecoder().decode(index)) as { weight_map: Record<string, string> }).weight_map))]
    : ['model.safetensors'];
  const where = new Map<string, { bytes: Uint8Array; dtype: string; begin: number; end: number }>();
  for (const file of names) {
    const bytes = files.get(file);
    if (!bytes) throw new Error(`the bench model has no ${file}`);
    const header = await readSafetensorsHeader(bytesSource(file, bytes));
    for (const t of header.tensors.values()) where.set(t.name, { bytes, dtype: t.dtype, begin: t.byteOffset, end: t.byteOffset + t.byteLength });
  }
  return (name) => {
    const t = where.get(name);
    if (!t) return undefined;
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') throw new Error(`tensor ${name} has dtype ${t.dtype}, not a float`);
    return toFloat32(t.dtype, t.bytes.subarray(t.begin, t.end));
  };
}

interface Linear {
  w: Tensor2D; // [out, in]
  lora: { a: Variable; b: Variable; scaling: number } | null;
}

interface Layer {
  inNorm: Tensor1D;
  postNorm: Tensor1D;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  gate: Linear;
  up: Linear;
  down: Linear;
}

let instances = 0;

export function buildTfjsLora(tf: Tf, s: TfjsLoraSpec): TfjsLoraModel {
  const { cfg, B, T } = s;
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: nKV, headDim: D, vocabSize: V } = cfg;
  const G = nH / nKV;
  const R = B * T;
  if (cfg.qkvBias || cfg.oBias || cfg.mlpBias || cfg.qkNorm || cfg.slidingWindow !== null || cfg.architecture === 'gemma3') {
    throw new Error('the TensorFlow.js LoRA step covers Llama-shaped models only (no biases, q/k norms or sliding window)');
  }
  const prefix = `tabtune_bench_${instances++}`;
  const owned: Tensor[] = [];
  const own = <X extends Tensor>(t: X): X => {
    owned.push(t);
    return t;
  };
  const frozen = (name: string, shape: number[]): Tensor => {
    const w = s.weights(name);
    if (!w) throw new Error(`the bench model has no tensor ${name}`);
    return own(tf.tensor(w, shape));
  };
  // A variable shares its initial tensor's data; the initial tensor itself is dropped.
  const variable = (init: Tensor, trainable: boolean, name: string): Variable => {
    const v = tf.variable(init, trainable, name);
    init.dispose();
    return v;
  };
  const vars: Variable[] = [];
  const linear = (l: number, module: string, out: number, inp: number): Linear => {
    const name = `model.layers.${l}.${module}`;
    const ad = s.lora.modules.get(name);
    let lora: Linear['lora'] = null;
    if (ad) {
      const a = variable(tf.tensor2d(ad.a, [ad.rank, inp]), true, `${prefix}.${name}.lora_A`);
      const b = variable(tf.tensor2d(ad.b, [out, ad.rank]), true, `${prefix}.${name}.lora_B`);
      vars.push(a, b);
      lora = { a, b, scaling: ad.scaling };
    }
    return { w: frozen(`${name}.weight`, [out, inp]) as Tensor2D, lora };
  };

  const embed = frozen('model.embed_tokens.weight', [V, H]) as Tensor2D;
  const head = cfg.tieWordEmbeddings ? embed : (frozen('lm_head.weight', [V, H]) as Tensor2D);
  const finalNorm = frozen('model.norm.weight', [H]) as Tensor1D;
  const layers: Layer[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    layers.push({
      inNorm: frozen(`model.layers.${l}.input_layernorm.weight`, [H]) as Tensor1D,
      postNorm: frozen(`model.layers.${l}.post_attention_layernorm.weight`, [H]) as Tensor1D,
      q: linear(l, 'self_attn.q_proj', nH * D, H),
      k: linear(l, 'self_attn.k_proj', nKV * D, H),
      v: linear(l, 'self_attn.v_proj', nKV * D, H),
      o: linear(l, 'self_attn.o_proj', H, nH * D),
      gate: linear(l, 'mlp.gate_proj', I, H),
      up: linear(l, 'mlp.up_proj', I, H),
      down: linear(l, 'mlp.down_proj', H, I),
    });
  }
  // AdamW moments, one pair per trainable matrix.
  const moments = vars.map((v) => ({
    m: variable(tf.zerosLike(v), false, `${v.name}.m`),
    v: variable(tf.zerosLike(v), false, `${v.name}.v`),
  }));

  // RoPE as transformers' rotate_half: cos/sin of position * f_i, the D/2 frequencies repeated over
  // both halves ([T, D], broadcast over sequences and heads). The engine's own table, so the angles match.
  const table = ropeTable(ropeInvFreq(cfg), T); // [T, D] = cos | sin over D/2
  const cosData = new Float32Array(T * D);
  const sinData = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < D / 2; i++) {
      cosData[t * D + i] = cosData[t * D + D / 2 + i] = table[t * D + i]!;
      sinData[t * D + i] = sinData[t * D + D / 2 + i] = table[t * D + D / 2 + i]!;
    }
  }
  const cos = own(tf.tensor2d(cosData, [T, D]));
  const sin = own(tf.tensor2d(sinData, [T, D]));
  // Causal mask over the G query heads of a kv head stacked as rows: [G*T, T], 0 or -1e9.
  const maskData = new Float32Array(G * T * T);
  for (let g = 0; g < G; g++) for (let t = 0; t < T; t++) for (let u = t + 1; u < T; u++) maskData[(g * T + t) * T + u] = -1e9;
  const mask = own(tf.tensor2d(maskData, [G * T, T]));
  const scale = 1 / Math.sqrt(D);

  const lin = (x: Tensor, p: Linear): Tensor => {
    const y = tf.matMul(x as Tensor2D, p.w, false, true);
    if (!p.lora) return y;
    const ax = tf.matMul(x as Tensor2D, p.lora.a as Tensor2D, false, true); // [R, r]
    return tf.add(y, tf.mul(tf.matMul(ax, p.lora.b as Tensor2D, false, true), p.lora.scaling));
  };
  const rms = (x: Tensor, w: Tensor1D): Tensor => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), cfg.rmsNormEps))), w);
  // [R, n*D] -> [B, n, T, D]
  const heads = (x: Tensor, n: number): Tensor => tf.transpose(tf.reshape(x, [B, T, n, D]), [0, 2, 1, 3]);
  const rope = (x: Tensor): Tensor => {
    const x1 = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, D / 2]);
    const x2 = tf.slice(x, [0, 0, 0, D / 2], [-1, -1, -1, D / 2]);
    return tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), sin));
  };

  /** Mean cross-entropy of the next-token targets; flatTargets index the [R*V] log-probabilities. */
  const lossOf = (ids: Tensor1D, flatTargets: Tensor1D, count: number) => (): Scalar => {
    let x: Tensor = tf.gather(embed, ids); // [R, H]
    for (const L of layers) {
      const xn = rms(x, L.inNorm);
      // Query head h = kvh * G + g uses kv head kvh (transformers' repeat_kv): [B*nKV, G*T, D].
      const q = tf.reshape(rope(heads(lin(xn, L.q), nH)), [B * nKV, G * T, D]);
      const k = tf.reshape(rope(heads(lin(xn, L.k), nKV)), [B * nKV, T, D]);
      const v = tf.reshape(heads(lin(xn, L.v), nKV), [B * nKV, T, D]);
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask); // [B*nKV, G*T, T]
      const o = tf.matMul(tf.softmax(scores), v); // [B*nKV, G*T, D]
      const attn = tf.reshape(tf.transpose(tf.reshape(o, [B, nH, T, D]), [0, 2, 1, 3]), [R, nH * D]);
      x = tf.add(x, lin(attn, L.o));
      const xn2 = rms(x, L.postNorm);
      const gate = lin(xn2, L.gate);
      const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), lin(xn2, L.up)); // SiLU(gate) * up
      x = tf.add(x, lin(act, L.down));
    }
    const logits = tf.matMul(rms(x, finalNorm) as Tensor2D, head, false, true); // [R, V]
    const logp = tf.reshape(tf.logSoftmax(logits), [R * V]);
    return tf.div(tf.neg(tf.sum(tf.gather(logp, flatTargets))), count) as Scalar;
  };

  const { lr, beta1, beta2, eps, weightDecay, clip } = s.adamw;
  let steps = 0;
  return {
    async step(rows) {
      if (rows.length !== B || rows.some((r) => r.length !== T)) throw new Error(`the TensorFlow.js step takes ${B} rows of ${T} tokens`);
      const idData = new Int32Array(R);
      const targets: number[] = [];
      rows.forEach((r, b) => {
        idData.set(r, b * T);
        for (let t = 0; t + 1 < T; t++) targets.push((b * T + t) * V + r[t + 1]!);
      });
      steps++;
      const bc1 = 1 - beta1 ** steps;
      const bc2 = 1 - beta2 ** steps;
      const ids = tf.tensor1d(idData, 'int32');
      const flat = tf.tensor1d(Int32Array.from(targets), 'int32');
      const [loss, norm] = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(lossOf(ids, flat, targets.length), vars);
        const gs = vars.map((v) => grads[v.name]!);
        // Summed pairwise, not with tf.addN: one addN of every tensor can exceed the device's storage buffers per stage.
        const gnorm = tf.sqrt(gs.map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b)));
        const clipScale = clip > 0 ? tf.minimum(1, tf.div(clip, tf.add(gnorm, 1e-6))) : tf.scalar(1);
        vars.forEach((p, i) => {
          const g = tf.mul(gs[i]!, clipScale);
          const m = tf.add(tf.mul(moments[i]!.m, beta1), tf.mul(g, 1 - beta1));
          const v = tf.add(tf.mul(moments[i]!.v, beta2), tf.mul(tf.square(g), 1 - beta2));
          moments[i]!.m.assign(m);
          moments[i]!.v.assign(v);
          const decayed = weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
          p.assign(tf.sub(decayed, tf.div(tf.mul(m, lr / bc1), tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), eps))));
        });
        return [value, gnorm];
      });
      ids.dispose();
      flat.dispose();
      try {
        const [l, n] = await Promise.all([loss.data(), norm.data()]);
        return { loss: l[0]!, gradNorm: n[0]! };
      } finally {
        loss.dispose();
        norm.dispose();
      }
    },
    numTensors: () => tf.memory().numTensors,
    dispose() {
      for (const t of owned) t.dispose();
      for (const v of vars) v.dispose();
      for (const m of moments) {
        m.m.dispose();
        m.v.dispose();
      }
    },
  };
}
