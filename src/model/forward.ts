// The forward graph of a Llama-family decoder (Llama, Mistral, Qwen2, Qwen3) or Gemma 3 (four norms
// per layer, GeGLU, per-layer windows and RoPE, scaled embeddings), encoded as WGSL dispatches.
// Sequencing lives here; the kernels are pure.
// Dimension key: B = sequences, T = new tokens per sequence, R = B*T rows, S = key slots per
// sequence (cache capacity), H = hidden, I = intermediate, nH = query heads, nKV = kv heads,
// D = head dim, r4 = LoRA rank padded to a multiple of 4.

import type { Gpu } from '../gpu/device.ts';
import { Recorder, STORAGE } from '../gpu/recorder.ts';
import { attentionForward } from '../kernels/attention.ts';
import { embeddingForward } from '../kernels/embedding.ts';
import { gegluForward } from '../kernels/geglu.ts';
import { matmulForward } from '../kernels/matmul.ts';
import { rmsnormForward } from '../kernels/rmsnorm.ts';
import { ropeForward } from '../kernels/rope.ts';
import { zeroSeg } from '../kernels/segments.ts';
import { swigluForward } from '../kernels/swiglu.ts';
import type { GpuLora } from '../lora/gpu-lora.ts';
import type { ModelConfig } from './config.ts';
import { layerNorms, layerRopeTable, layerWindow } from './layers.ts';
import { linearName, type LinearModule } from './params.ts';
import type { ModelWeights } from './weights.ts';

/** Per-layer key/value storage: k, v: [B, S, nKV, D] f32. */
export interface KvCache {
  B: number;
  S: number;
  k: GPUBuffer[];
  v: GPUBuffer[];
}

export interface ForwardInput {
  /** ids: [R] u32 */
  ids: GPUBuffer;
  B: number;
  T: number;
  /** Position of the first new token (tokens before it are already in the cache). */
  p0: number;
  cache: KvCache;
  /** seg: [R] u32, document starts of packed rows (see kernels/segments); absent = unpacked. */
  seg?: GPUBuffer;
}

export interface ForwardContext {
  gpu: Gpu;
  cfg: ModelConfig;
  weights: ModelWeights;
  /** table: [P, D] cos | sin, see kernels/rope.ts */
  ropeTable: GPUBuffer;
  /** table: [P, D], Gemma 3's sliding layers' own; null = every layer uses ropeTable. */
  localRopeTable: GPUBuffer | null;
  lora: GpuLora | null;
}

/**
 * `oneLayer`: every layer shares one k and one v buffer, for a single full-sequence pass (evaluation)
 * that never reads a layer's keys again once the next layer runs: L times less memory than a cache.
 */
export function allocKvCache(gpu: Gpu, cfg: ModelConfig, B: number, S: number, oneLayer = false): KvCache {
  const bytes = B * S * cfg.numKvHeads * cfg.headDim * 4;
  const k: GPUBuffer[] = [];
  const v: GPUBuffer[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    k.push(oneLayer && l > 0 ? k[0]! : gpu.pool.acquire(bytes, STORAGE, `k_cache.${l}`));
    v.push(oneLayer && l > 0 ? v[0]! : gpu.pool.acquire(bytes, STORAGE, `v_cache.${l}`));
  }
  return { B, S, k, v };
}

export function releaseKvCache(gpu: Gpu, c: KvCache): void {
  for (const b of new Set([...c.k, ...c.v])) gpu.pool.release(b);
}

/** y = x W^T + b, plus LoRA's scaling * (x A^T) B^T; `accumulate` adds onto y (residual). One pass over y. */
function linear(
  rec: Recorder,
  ctx: ForwardContext,
  layer: number,
  module: LinearModule,
  x: GPUBuffer,
  y: GPUBuffer,
  R: number,
  accumulate = false,
): void {
  const name = linearName(layer, module);
  const lw = ctx.weights.linears.get(name)!;
  const adapter = ctx.lora?.modules.get(name);
  if (!adapter) {
    matmulForward(rec, { x, w: lw.w, y, M: R, bias: lw.bias, accumulate });
    return;
  }
  // (x A^T) first; the base product adds scaling * (x A^T) B^T in its epilogue.
  const ax = rec.temp(R * adapter.a.rows * 4, STORAGE, 'lora_ax'); // [R, r4]
  matmulForward(rec, { x, w: adapter.a, y: ax, M: R });
  matmulForward(rec, { x, w: lw.w, y, M: R, bias: lw.bias, accumulate, lora: { u: ax, b: adapter.b, scale: adapter.scaling } });
}

/**
 * Runs every decoder layer on R = B*T new tokens and leaves the final-normed hidden states
 * in the returned buffer [R, H] (owned by the caller: release it to gpu.pool). New keys and
 * values are written into the cache at positions p0 .. p0+T-1.
 */
export function encodeForward(ctx: ForwardContext, input: ForwardInput): GPUBuffer {
  const { gpu, cfg, weights } = ctx;
  const { B, T, p0, cache } = input;
  const R = B * T;
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: nKV, headDim: D } = cfg;
  const rec = new Recorder(gpu);
  const x = gpu.pool.acquire(R * H * 4, STORAGE, 'x'); // [R, H] residual stream
  const out = gpu.pool.acquire(R * H * 4, STORAGE, 'hidden'); // [R, H] final normed
  const xn = rec.temp(R * H * 4, STORAGE, 'xn'); // [R, H]
  const q = rec.temp(R * nH * D * 4, STORAGE, 'q'); // [R, nH, D]
  const qn = cfg.qkNorm ? rec.temp(R * nH * D * 4, STORAGE, 'qn') : q;
  const kNew = rec.temp(R * nKV * D * 4, STORAGE, 'k_new'); // [R, nKV, D]
  const kn = cfg.qkNorm ? rec.temp(R * nKV * D * 4, STORAGE, 'kn') : kNew;
  const vNew = rec.temp(R * nKV * D * 4, STORAGE, 'v_new'); // [R, nKV, D]
  const attn = rec.temp(R * nH * D * 4, STORAGE, 'attn'); // [R, nH, D]
  const lse = rec.temp(R * nH * 4, STORAGE, 'lse'); // [R, nH]
  const gate = rec.temp(R * I * 4, STORAGE, 'gate'); // [R, I]
  const up = rec.temp(R * I * 4, STORAGE, 'up'); // [R, I]
  const act = rec.temp(R * I * 4, STORAGE, 'act'); // [R, I]
  // Sandwich norms (Gemma 3): a branch's output is normed before it joins the residual stream.
  const branch = cfg.sandwichNorms ? rec.temp(R * H * 4, STORAGE, 'branch') : null; // [R, H]
  const gated = cfg.mlpActivation === 'gelu_tanh' ? gegluForward : swigluForward;
  if (B > 1 && cache.S !== T) throw new Error('forward: a batch of several sequences needs a cache of exactly T slots');
  const rowBytes = nKV * D * 4;
  // One document-start buffer for the whole pass (zeros when rows are not packed), not one per call.
  const seg = input.seg ?? zeroSeg(rec, R);
  const eps = cfg.rmsNormEps;
  const vec = (name: string) => weights.vectors.get(name)!;
  /** x += branch output: straight, or through its norm (Gemma 3). */
  const residual = (l: number, m: LinearModule, from: GPUBuffer, norm: string | null) => {
    if (!norm) return linear(rec, ctx, l, m, from, x, R, true);
    linear(rec, ctx, l, m, from, branch!, R);
    rmsnormForward(rec, { x: branch!, w: vec(norm), y: x, R, C: H, eps, accumulate: true });
  };

  embeddingForward(rec, { ids: input.ids, w: weights.embed, out: x, T: R, scale: cfg.embedScale });
  for (let l = 0; l < cfg.numLayers; l++) {
    const norms = layerNorms(cfg, l);
    const at = `model.layers.${l}.self_attn`;
    rmsnormForward(rec, { x, w: vec(norms.input), y: xn, R, C: H, eps });
    linear(rec, ctx, l, 'q_proj', xn, q, R);
    linear(rec, ctx, l, 'k_proj', xn, kNew, R);
    linear(rec, ctx, l, 'v_proj', xn, vNew, R);
    if (cfg.qkNorm) {
      rmsnormForward(rec, { x: q, w: vec(`${at}.q_norm.weight`), y: qn, R: R * nH, C: D, eps });
      rmsnormForward(rec, { x: kNew, w: vec(`${at}.k_norm.weight`), y: kn, R: R * nKV, C: D, eps });
    }
    const table = layerRopeTable(ctx, l);
    ropeForward(rec, { x: qn, table, R, T, p0, nh: nH, D, seg });
    ropeForward(rec, { x: kn, table, R, T, p0, nh: nKV, D, seg });
    // Batched rows are laid out [B, T] = [B, S]: copy whole. One sequence: append at p0.
    rec.copy(kn, 0, cache.k[l]!, p0 * rowBytes, R * rowBytes);
    rec.copy(vNew, 0, cache.v[l]!, p0 * rowBytes, R * rowBytes);
    attentionForward(rec, {
      q: qn, k: cache.k[l]!, v: cache.v[l]!, o: attn, lse,
      B, T, S: cache.S, p0, nH, nKV, D, window: layerWindow(cfg, l) ?? 0, seg,
      scale: cfg.attentionScale, softcap: cfg.attnLogitSoftcap,
    });
    residual(l, 'o_proj', attn, norms.attnOut);
    rmsnormForward(rec, { x, w: vec(norms.mlpIn), y: xn, R, C: H, eps });
    linear(rec, ctx, l, 'gate_proj', xn, gate, R);
    linear(rec, ctx, l, 'up_proj', xn, up, R);
    gated(rec, { gate, up, out: act, N: R * I });
    residual(l, 'down_proj', act, norms.mlpOut);
  }
  rmsnormForward(rec, { x, w: vec('model.norm.weight'), y: out, R, C: H, eps });
  rec.submit();
  gpu.pool.release(x);
  return out;
}
