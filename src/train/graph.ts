// One training micro-step on the GPU: forward with the layer inputs kept, the loss over the
// vocabulary in chunks, and the backward pass through every frozen layer down to the earliest
// adapter, accumulating gradients into the trainable tensors. Per-block activation checkpointing
// keeps only each layer's input and recomputes the layer in backward. Gemma 3's extras ride along:
// scaled embeddings, (1 + w) norms (uploaded as such), normed branch outputs before each residual
// add, GeGLU, per-layer windows and RoPE, attention and final logit softcaps.
// Dimension key: B = sequences, T = tokens per sequence, R = B*T, H = hidden, I = intermediate,
// nH/nKV = query/key-value heads, D = head dim, V = vocab, Vc = vocab rows of one chunk,
// r4 = LoRA rank padded to a multiple of 4.

import type { Gpu } from '../gpu/device.ts';
import { type Binding, Recorder, STORAGE, uploadBuffer } from '../gpu/recorder.ts';
import { attentionBackward, attentionForward } from '../kernels/attention.ts';
import { biasGrad } from '../kernels/bias-grad.ts';
import { crossEntropyBackward, crossEntropyChunkForward, IGNORE_INDEX } from '../kernels/cross-entropy.ts';
import { dropoutForward } from '../kernels/dropout.ts';
import { embeddingBackward, embeddingForward, embeddingGradPlan } from '../kernels/embedding.ts';
import { gegluBackward, gegluForward } from '../kernels/geglu.ts';
import { matmulForward, matmulInputGrad, matmulWeightGrad } from '../kernels/matmul.ts';
import { segmentStarts } from '../kernels/segments.ts';
import { rmsnormBackward, rmsnormForward, rmsnormWeightGrad } from '../kernels/rmsnorm.ts';
import { ropeBackward, ropeForward } from '../kernels/rope.ts';
import { swigluBackward, swigluForward } from '../kernels/swiglu.ts';
import type { ModelConfig } from '../model/config.ts';
import { layerNorms, layerRopeTable, layerWindow } from '../model/layers.ts';
import { capLogits, forEachLogitsBlock, type LogitsBlock, logitsBlockCount, logitsBlockFloats } from '../model/lm-head.ts';
import type { LoadedModel } from '../model/model.ts';
import { LINEAR_MODULES, linearName, linearShape, type LinearModule } from '../model/params.ts';
import type { Trainable } from './trainable.ts';
import { type LayerBackwardPlan, layerBackwardPlan } from './backward-plan.ts';

export interface MicroBatch {
  /** ids: [B, T] (padded with 0) */
  ids: Uint32Array;
  /** targets: [B, T]: the label of the next position, or -100 */
  targets: Int32Array;
  /** seg: [B, T] start of each token's document for packed rows (see kernels/segments), or null. */
  seg: Uint32Array | null;
  B: number;
  T: number;
}

export interface StepSettings {
  /** Multiplies dLoss/dlogits: 1 / (target tokens of the whole accumulated batch) for a mean. */
  lossScale: number;
  /** LoRA dropout probability (0 = off). */
  dropout: number;
  /** Distinct per micro-step so every step draws new dropout masks. */
  dropoutSeed: number;
  checkpointing: boolean;
}

type Buf = GPUBuffer;

/** The activations of one layer, as its backward pass needs them. */
interface LayerActs {
  xn1: Buf; // [R, H] input of q/k/v
  q: Buf; // [R, nH*D] before q_norm (qk-norm models)
  k: Buf; // [R, nKV*D] before k_norm
  qr: Buf; // [R, nH*D] after norm and RoPE: attention's query
  kr: Buf; // [R, nKV*D] attention's key
  v: Buf; // [R, nKV*D]
  o: Buf; // [R, nH*D] attention output, input of o_proj
  lse: Buf; // [R, nH]
  /** [R, H] o_proj's output before its norm (sandwich norms only) */
  ao: Buf | null;
  x1: Buf; // [R, H] residual after attention
  xn2: Buf; // [R, H]
  g: Buf; // [R, I]
  u: Buf; // [R, I]
  a: Buf; // [R, I] input of down_proj
  /** [R, H] down_proj's output before its norm (sandwich norms only) */
  mo: Buf | null;
  /** Per adapted module: the adapter's hidden U = dropout(x) A^T [R, r4], and dropout(x) when dropout is on. */
  lora: Map<LinearModule, { u: Buf; xd: Buf | null }>;
}

const DIMS = (cfg: ModelConfig) => ({
  H: cfg.hiddenSize,
  I: cfg.intermediateSize,
  nH: cfg.numHeads,
  nKV: cfg.numKvHeads,
  D: cfg.headDim,
});

class Step {
  readonly cfg: ModelConfig;
  readonly gpu: Gpu;
  private owned: Buf[] = [];

  constructor(
    readonly model: LoadedModel,
    readonly train: Trainable,
    readonly s: StepSettings,
    readonly R: number,
    readonly B: number,
    readonly T: number,
    readonly seg: Buf,
  ) {
    this.cfg = model.cfg;
    this.gpu = model.gpu;
  }

  buf(floats: number, label: string): Buf {
    const b = this.gpu.pool.acquire(floats * 4, STORAGE, label);
    this.owned.push(b);
    return b;
  }

  releaseAll(): void {
    for (const b of this.owned) this.gpu.pool.release(b);
    this.owned = [];
  }

  vec(name: string): Buf {
    return this.model.weights.vectors.get(name)!;
  }

  allocActs(): LayerActs {
    const { H, I, nH, nKV, D } = DIMS(this.cfg);
    const R = this.R;
    // Every adapted module of a kind shares one slot per layer (one rank for the whole adapter).
    const lora = new Map<LinearModule, { u: Buf; xd: Buf | null }>();
    for (const [name, ad] of this.train.lora?.modules ?? []) {
      const m = name.slice(name.lastIndexOf('.') + 1) as LinearModule;
      if (lora.has(m)) continue;
      const inp = linearShape(this.cfg, m)[1];
      lora.set(m, { u: this.buf(R * ad.a.rows, `lora_u.${m}`), xd: this.s.dropout > 0 ? this.buf(R * inp, `lora_xd.${m}`) : null });
    }
    return {
      xn1: this.buf(R * H, 'xn1'), q: this.buf(R * nH * D, 'q'), k: this.buf(R * nKV * D, 'k'),
      qr: this.buf(R * nH * D, 'qr'), kr: this.buf(R * nKV * D, 'kr'), v: this.buf(R * nKV * D, 'v'),
      o: this.buf(R * nH * D, 'o'), lse: this.buf(R * nH, 'lse'), x1: this.buf(R * H, 'x1'),
      xn2: this.buf(R * H, 'xn2'), g: this.buf(R * I, 'g'), u: this.buf(R * I, 'u'), a: this.buf(R * I, 'a'), lora,
      ao: this.cfg.sandwichNorms ? this.buf(R * H, 'ao') : null,
      mo: this.cfg.sandwichNorms ? this.buf(R * H, 'mo') : null,
    };
  }

  private seedOf(layer: number, module: LinearModule): number {
    return (Math.imul(this.s.dropoutSeed, 0x9e3779b1) ^ Math.imul(layer * 8 + LINEAR_MODULES.indexOf(module) + 1, 0x85ebca6b)) >>> 0;
  }

  /** y (+)= x W^T + b + s * dropout(x) A^T B^T, saving what the backward pass needs. */
  linear(rec: Recorder, l: number, m: LinearModule, x: Buf, y: Buf, acts: LayerActs, accumulate = false): void {
    const name = linearName(l, m);
    const lw = this.model.weights.linears.get(name)!;
    const ad = this.train.lora?.modules.get(name);
    if (!ad) {
      matmulForward(rec, { x, w: lw.w, y, M: this.R, bias: lw.bias, accumulate });
      return;
    }
    const saved = acts.lora.get(m)!;
    let xin = x;
    if (saved.xd) {
      dropoutForward(rec, { x, out: saved.xd, N: this.R * lw.w.cols, p: this.s.dropout, seed: this.seedOf(l, m) });
      xin = saved.xd;
    }
    // U = dropout(x) A^T first; the base product adds scaling * U B^T in its epilogue.
    matmulForward(rec, { x: xin, w: ad.a, y: saved.u, M: this.R });
    matmulForward(rec, { x, w: lw.w, y, M: this.R, bias: lw.bias, accumulate, lora: { u: saved.u, b: ad.b, scale: ad.scaling } });
  }

  /**
   * dx (+)= dy W (+ the adapter's path); accumulates the trainable tensors' gradients. dx null: the
   * input gradient is not needed (see backward-plan.ts), only the trainable tensors' gradients.
   */
  linearBackward(rec: Recorder, l: number, m: LinearModule, x: Buf, dy: Buf, dx: Buf | null, acts: LayerActs, accumulate: boolean): void {
    const name = linearName(l, m);
    const lw = this.model.weights.linears.get(name)!;
    const [out, inp] = [lw.w.rows, lw.w.cols];
    const R = this.R;
    if (dx) matmulInputGrad(rec, { dy, w: lw.w, dx, M: R, accumulate });
    if (this.train.mode === 'full') {
      matmulWeightGrad(rec, { dy, x, dw: this.train.gradOf.get(`${name}.weight`)!, M: R, N: out, K: inp, accumulate: true });
      if (lw.bias) biasGrad(rec, { dy, db: this.train.gradOf.get(`${name}.bias`)!, M: R, N: out, accumulate: true });
    }
    const ad = this.train.lora?.modules.get(name);
    if (!ad) return;
    const grads = this.train.loraGrads.get(name)!;
    const saved = acts.lora.get(m)!;
    const r4 = ad.a.rows;
    matmulWeightGrad(rec, { dy, x: saved.u, dw: grads.b, M: R, N: out, K: r4, alpha: ad.scaling, accumulate: true });
    const du = rec.temp(R * r4 * 4, STORAGE, 'lora_du'); // [R, r4]
    matmulInputGrad(rec, { dy, w: ad.b, dx: du, M: R, alpha: ad.scaling });
    matmulWeightGrad(rec, { dy: du, x: saved.xd ?? x, dw: grads.a, M: R, N: r4, K: inp, accumulate: true });
    if (!dx) return;
    if (!saved.xd) {
      matmulInputGrad(rec, { dy: du, w: ad.a, dx, M: R, accumulate: true });
    } else {
      const dxd = rec.temp(R * inp * 4, STORAGE, 'lora_dxd'); // [R, in]
      matmulInputGrad(rec, { dy: du, w: ad.a, dx: dxd, M: R });
      dropoutForward(rec, { x: dxd, out: dx, N: R * inp, p: this.s.dropout, seed: this.seedOf(l, m), accumulate: true });
    }
  }

  /** Attention's shape and knobs in layer l, as the forward and the backward both need them. */
  private attentionArgs(l: number) {
    const cfg = this.cfg;
    const { nH, nKV, D } = DIMS(cfg);
    const { B, T } = this;
    return {
      B, T, S: T, p0: 0, nH, nKV, D, window: layerWindow(cfg, l) ?? 0, seg: this.seg,
      scale: cfg.attentionScale, softcap: cfg.attnLogitSoftcap,
    };
  }

  layerForward(rec: Recorder, l: number, x: Buf, xOut: Buf, a: LayerActs): void {
    const cfg = this.cfg;
    const { H, I, nH, nKV, D } = DIMS(cfg);
    const { R, T } = this;
    const eps = cfg.rmsNormEps;
    const at = `model.layers.${l}.self_attn`;
    const norms = layerNorms(cfg, l);
    rmsnormForward(rec, { x, w: this.vec(norms.input), y: a.xn1, R, C: H, eps });
    this.linear(rec, l, 'q_proj', a.xn1, cfg.qkNorm ? a.q : a.qr, a);
    this.linear(rec, l, 'k_proj', a.xn1, cfg.qkNorm ? a.k : a.kr, a);
    this.linear(rec, l, 'v_proj', a.xn1, a.v, a);
    if (cfg.qkNorm) {
      rmsnormForward(rec, { x: a.q, w: this.vec(`${at}.q_norm.weight`), y: a.qr, R: R * nH, C: D, eps });
      rmsnormForward(rec, { x: a.k, w: this.vec(`${at}.k_norm.weight`), y: a.kr, R: R * nKV, C: D, eps });
    }
    const rope = { table: layerRopeTable(this.model, l), R, T, p0: 0, D, seg: this.seg };
    ropeForward(rec, { ...rope, x: a.qr, nh: nH });
    ropeForward(rec, { ...rope, x: a.kr, nh: nKV });
    attentionForward(rec, { q: a.qr, k: a.kr, v: a.v, o: a.o, lse: a.lse, ...this.attentionArgs(l) });
    rec.copy(x, 0, a.x1, 0, R * H * 4);
    this.residual(rec, l, 'o_proj', a.o, a.x1, a.ao, norms.attnOut, a);
    rmsnormForward(rec, { x: a.x1, w: this.vec(norms.mlpIn), y: a.xn2, R, C: H, eps });
    this.linear(rec, l, 'gate_proj', a.xn2, a.g, a);
    this.linear(rec, l, 'up_proj', a.xn2, a.u, a);
    (cfg.mlpActivation === 'gelu_tanh' ? gegluForward : swigluForward)(rec, { gate: a.g, up: a.u, out: a.a, N: R * I });
    rec.copy(a.x1, 0, xOut, 0, R * H * 4);
    this.residual(rec, l, 'down_proj', a.a, xOut, a.mo, norms.mlpOut, a);
  }

  /** stream += m(x): straight into the stream, or (sandwich norms) into `branch`, normed, then added. */
  private residual(rec: Recorder, l: number, m: LinearModule, x: Buf, stream: Buf, branch: Buf | null, norm: string | null, a: LayerActs): void {
    if (!norm) return this.linear(rec, l, m, x, stream, a, true);
    this.linear(rec, l, m, x, branch!, a);
    rmsnormForward(rec, { x: branch!, w: this.vec(norm), y: stream, R: this.R, C: this.cfg.hiddenSize, eps: this.cfg.rmsNormEps, accumulate: true });
  }

  /**
   * d(branch) from d(stream) through a branch's output norm (sandwich norms): the norm's input
   * gradient, and its weight gradient in full fine-tuning; `dStream` itself when there is no norm.
   */
  private branchGrad(rec: Recorder, branch: Buf | null, norm: string | null, dStream: Buf, label: string): Buf {
    if (!norm) return dStream;
    const { R } = this;
    const { H } = DIMS(this.cfg);
    const eps = this.cfg.rmsNormEps;
    const d = rec.temp(R * H * 4, STORAGE, label);
    rmsnormBackward(rec, { x: branch!, w: this.vec(norm), dy: dStream, dx: d, R, C: H, eps });
    if (this.train.mode === 'full') rmsnormWeightGrad(rec, { x: branch!, dy: dStream, dw: this.train.gradOf.get(norm)!, R, C: H, eps, accumulate: true });
    return d;
  }

  /** The layer's backward (dx = d(layer input) from dOut = d(layer output)); `plan` says which gradients the layers below and this layer's adapters need. */
  layerBackward(rec: Recorder, l: number, x: Buf, dOut: Buf, dx: Buf, a: LayerActs, plan: LayerBackwardPlan): void {
    const cfg = this.cfg;
    const { H, I, nH, nKV, D } = DIMS(cfg);
    const { R, T } = this;
    const eps = cfg.rmsNormEps;
    const at = `model.layers.${l}.self_attn`;
    const norms = layerNorms(cfg, l);
    const full = this.train.mode === 'full';
    const t = (n: number, label: string) => rec.temp(n * 4, STORAGE, label);
    const wants = (m: LinearModule, n: number, label: string) => (plan.inputGradOf.has(m) ? t(n, label) : null);
    // MLP: x2 = x1 + [mlpOut norm](down(act(gate(xn2)) * up(xn2)))
    const dx1 = plan.residualGrad ? t(R * H, 'dx1') : null;
    if (dx1) rec.copy(dOut, 0, dx1, 0, R * H * 4);
    const dm = this.branchGrad(rec, a.mo, norms.mlpOut, dOut, 'dmo');
    const da = wants('down_proj', R * I, 'da');
    this.linearBackward(rec, l, 'down_proj', a.a, dm, da, a, false);
    if (da) {
      const dg = t(R * I, 'dg');
      const du = t(R * I, 'du');
      (cfg.mlpActivation === 'gelu_tanh' ? gegluBackward : swigluBackward)(rec, { gate: a.g, up: a.u, dout: da, dgate: dg, dup: du, N: R * I });
      const dxn2 = wants('gate_proj', R * H, 'dxn2');
      this.linearBackward(rec, l, 'gate_proj', a.xn2, dg, dxn2, a, false);
      this.linearBackward(rec, l, 'up_proj', a.xn2, du, dxn2, a, true);
      if (dxn2 && dx1) rmsnormBackward(rec, { x: a.x1, w: this.vec(norms.mlpIn), dy: dxn2, dx: dx1, R, C: H, eps, accumulate: true });
      if (full && dxn2) rmsnormWeightGrad(rec, { x: a.x1, dy: dxn2, dw: this.train.gradOf.get(norms.mlpIn)!, R, C: H, eps, accumulate: true });
    }
    if (!dx1) return;
    // Attention: x1 = x + [attnOut norm](o_proj(attn(rope(norm(q(xn1))), rope(norm(k(xn1))), v(xn1))))
    const dao = this.branchGrad(rec, a.ao, norms.attnOut, dx1, 'dao');
    const dO = wants('o_proj', R * nH * D, 'do');
    this.linearBackward(rec, l, 'o_proj', a.o, dao, dO, a, false);
    if (!dO) return;
    const dq = t(R * nH * D, 'dq');
    const dk = t(R * nKV * D, 'dk');
    const dv = t(R * nKV * D, 'dv');
    attentionBackward(rec, { q: a.qr, k: a.kr, v: a.v, o: a.o, lse: a.lse, dO, dQ: dq, dK: dk, dV: dv, ...this.attentionArgs(l) });
    const rope = { table: layerRopeTable(this.model, l), R, T, p0: 0, D, seg: this.seg };
    ropeBackward(rec, { ...rope, x: dq, nh: nH });
    ropeBackward(rec, { ...rope, x: dk, nh: nKV });
    let dqIn = dq;
    let dkIn = dk;
    if (cfg.qkNorm) {
      dqIn = t(R * nH * D, 'dq_pre');
      dkIn = t(R * nKV * D, 'dk_pre');
      const qn = `${at}.q_norm.weight`;
      const kn = `${at}.k_norm.weight`;
      rmsnormBackward(rec, { x: a.q, w: this.vec(qn), dy: dq, dx: dqIn, R: R * nH, C: D, eps });
      rmsnormBackward(rec, { x: a.k, w: this.vec(kn), dy: dk, dx: dkIn, R: R * nKV, C: D, eps });
      if (full) {
        rmsnormWeightGrad(rec, { x: a.q, dy: dq, dw: this.train.gradOf.get(qn)!, R: R * nH, C: D, eps, accumulate: true });
        rmsnormWeightGrad(rec, { x: a.k, dy: dk, dw: this.train.gradOf.get(kn)!, R: R * nKV, C: D, eps, accumulate: true });
      }
    }
    const dxn1 = wants('q_proj', R * H, 'dxn1');
    this.linearBackward(rec, l, 'q_proj', a.xn1, dqIn, dxn1, a, false);
    this.linearBackward(rec, l, 'k_proj', a.xn1, dkIn, dxn1, a, true);
    this.linearBackward(rec, l, 'v_proj', a.xn1, dv, dxn1, a, true);
    if (!dxn1) return;
    rec.copy(dx1, 0, dx, 0, R * H * 4);
    rmsnormBackward(rec, { x, w: this.vec(norms.input), dy: dxn1, dx, R, C: H, eps, accumulate: true });
    if (full) rmsnormWeightGrad(rec, { x, dy: dxn1, dw: this.train.gradOf.get(norms.input)!, R, C: H, eps, accumulate: true });
  }

  /**
   * Loss state per row (for the loss readback) and dHidden = d loss / d final hidden, two passes
   * over the vocabulary: first the running log-sum-exp, then softmax - onehot, chunk by chunk. When
   * the logits fit in one block, the second pass works on the first pass's logits instead of
   * computing them again.
   */
  lossBackward(hidden: Buf, targets: Buf, state: Buf, dHidden: Buf): void {
    const gpu = this.gpu;
    const head = this.model.weights.lmHead;
    const { R } = this;
    const logits = this.buf(logitsBlockFloats(gpu, head, R), 'logits'); // [Rc, Vc]
    const headGrad = this.train.gradOf.get(this.cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
    const single = logitsBlockCount(gpu, head, R) === 1;
    if (headGrad && !single) throw new Error('full fine-tuning needs the LM head and the rows in one chunk');
    const blocks = { hidden, targets, state, R };
    const cap = this.cfg.finalLogitSoftcap;
    // The logits of a block, soft-capped when the model caps them (the loss sees the capped values).
    const blockLogits = (rec: Recorder, k: LogitsBlock) => {
      matmulForward(rec, { x: k.x, w: k.w, y: logits, M: k.rows });
      capLogits(rec, logits, k.rows * k.w.rows, cap);
    };
    const backward = (rec: Recorder, k: LogitsBlock) => {
      // Through the softcap: dlogits is carried back to the uncapped logits, in place.
      crossEntropyBackward(rec, { logits, targets: k.targets, state: k.state, R: k.rows, Vc: k.w.rows, v0: k.v0, scale: this.s.lossScale, softcap: cap });
      const dx: Binding = { buffer: dHidden, offset: k.x.offset, size: k.x.size };
      matmulInputGrad(rec, { dy: logits, w: k.w, dx, M: k.rows, accumulate: !k.firstChunk });
      if (headGrad) matmulWeightGrad(rec, { dy: logits, x: hidden, dw: headGrad, M: k.rows, N: k.w.rows, K: head.cols, accumulate: true });
    };
    // First pass: the running log-sum-exp of every row; second: softmax - onehot, block by block.
    forEachLogitsBlock(gpu, head, blocks, (k) => {
      const rec = new Recorder(gpu);
      blockLogits(rec, k);
      crossEntropyChunkForward(rec, { logits, targets: k.targets, state: k.state, R: k.rows, Vc: k.w.rows, v0: k.v0, first: k.firstChunk });
      if (single) backward(rec, k);
      rec.submit();
    });
    if (single) return;
    forEachLogitsBlock(gpu, head, blocks, (k) => {
      const rec = new Recorder(gpu);
      blockLogits(rec, k);
      backward(rec, k);
      rec.submit();
    });
  }
}

export interface MicroStepResult {
  /** state: [R, 4] per-row loss state (see kernels/cross-entropy), read back later without stalling. */
  state: GPUBuffer;
  targets: Int32Array;
}

/**
 * Runs forward and backward for one micro-batch, adding its gradients into `train`'s gradient
 * buffers (which the caller zeroes at the start of each optimizer step).
 */
export function microStep(model: LoadedModel, train: Trainable, batch: MicroBatch, s: StepSettings): MicroStepResult {
  const gpu = model.gpu;
  const { B, T } = batch;
  const R = B * T;
  const cfg = model.cfg;
  const H = cfg.hiddenSize;
  const L = cfg.numLayers;
  // Document starts of packed rows, or zeros: one buffer for the whole step, not one per kernel call.
  const segBuf = uploadBuffer(gpu, batch.seg ?? new Uint32Array(R), 'seg');
  const step = new Step(model, train, s, R, B, T, segBuf);
  const ids = uploadBuffer(gpu, batch.ids, 'ids');
  const targets = uploadBuffer(gpu, batch.targets, 'targets');
  const xs: Buf[] = Array.from({ length: L + 1 }, (_, l) => step.buf(R * H, `x${l}`)); // layer inputs, [R, H] each
  const shared = s.checkpointing ? step.allocActs() : null;
  const acts: LayerActs[] = Array.from({ length: L }, () => shared ?? step.allocActs());

  let rec = new Recorder(gpu);
  embeddingForward(rec, { ids, w: model.weights.embed, out: xs[0]!, T: R, scale: cfg.embedScale });
  for (let l = 0; l < L; l++) {
    step.layerForward(rec, l, xs[l]!, xs[l + 1]!, acts[l]!);
    rec.submit();
    rec = new Recorder(gpu);
  }
  const hidden = step.buf(R * H, 'hidden');
  const normW = 'model.norm.weight';
  rmsnormForward(rec, { x: xs[L]!, w: step.vec(normW), y: hidden, R, C: H, eps: cfg.rmsNormEps });
  rec.submit();

  const state = gpu.pool.acquire(R * 16, STORAGE, 'loss_state'); // [R, 4], owned by the caller
  const dHidden = step.buf(R * H, 'd_hidden');
  step.lossBackward(hidden, targets, state, dHidden);

  rec = new Recorder(gpu);
  let dCur = step.buf(R * H, 'dx_a');
  let dNext = step.buf(R * H, 'dx_b');
  rmsnormBackward(rec, { x: xs[L]!, w: step.vec(normW), dy: dHidden, dx: dCur, R, C: H, eps: cfg.rmsNormEps });
  if (train.mode === 'full') rmsnormWeightGrad(rec, { x: xs[L]!, dy: dHidden, dw: train.gradOf.get(normW)!, R, C: H, eps: cfg.rmsNormEps, accumulate: true });
  rec.submit();
  // Below the earliest adapter nothing is trainable: LoRA stops there; full fine-tuning goes on to the embeddings.
  const full = train.mode === 'full';
  const lowest = full ? 0 : Math.min(...[...train.lora!.modules.keys()].map((n) => Number(n.split('.')[2])));
  for (let l = L - 1; l >= lowest; l--) {
    rec = new Recorder(gpu);
    if (s.checkpointing) step.layerForward(rec, l, xs[l]!, xs[l + 1]!, acts[l]!);
    const plan = layerBackwardPlan((m) => full || train.lora!.modules.has(linearName(l, m)), full || l > lowest);
    step.layerBackward(rec, l, xs[l]!, dCur, dNext, acts[l]!, plan);
    rec.submit();
    [dCur, dNext] = [dNext, dCur];
  }
  if (train.mode === 'full') {
    const plan = embeddingGradPlan(batch.ids);
    rec = new Recorder(gpu);
    const order = uploadBuffer(gpu, plan.order, 'emb_order');
    const starts = uploadBuffer(gpu, plan.starts, 'emb_starts');
    const uniq = uploadBuffer(gpu, plan.uniqueIds, 'emb_ids');
    embeddingBackward(rec, { dx: dCur, order, starts, uniqueIds: uniq, U: plan.uniqueIds.length, H, dE: train.gradOf.get('model.embed_tokens.weight')!, accumulate: true, scale: cfg.embedScale });
    rec.submit();
    for (const b of [order, starts, uniq]) gpu.pool.release(b);
  }
  for (const b of [ids, targets, segBuf]) gpu.pool.release(b);
  step.releaseAll();
  return { state, targets: batch.targets };
}

/** Targets of a padded batch: position t predicts labels[t + 1]; the rest is -100. */
export function batchTargets(rows: { ids: number[]; labels: number[]; positionIds?: number[] }[], T: number): MicroBatch {
  const B = rows.length;
  const packed = rows.some((r) => r.positionIds);
  const ids = new Uint32Array(B * T);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  rows.forEach((r, b) => {
    ids.set(r.ids.slice(0, T), b * T);
    for (let t = 0; t + 1 < Math.min(r.ids.length, T); t++) targets[b * T + t] = r.labels[t + 1]!;
  });
  return { ids, targets, B, T, seg: packed ? segmentStarts(rows.map((r) => r.positionIds?.slice(0, T)), T) : null };
}
