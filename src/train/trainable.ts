// What a training run updates, on the GPU: LoRA factors (the frozen base gets no gradient buffers),
// or, in full fine-tuning, every weight of the model in f32 (the weights themselves are the master copy).
// Each trainable tensor has a gradient and AdamW's two moments, all f32 and of the same size.
// Dimension key: r4 = rank padded to a multiple of 4, in/out = a layer's features.

import type { Gpu } from '../gpu/device.ts';
import { STORAGE } from '../gpu/recorder.ts';
import type { GpuMatrix } from '../kernels/weights.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import { type GpuLora, readUnpadded, uploadLora } from '../lora/gpu-lora.ts';
import type { ModelWeights } from '../model/weights.ts';

export interface TrainableTensor {
  name: string;
  /** The parameter itself (updated in place by AdamW). */
  param: GPUBuffer;
  grad: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
  /** f32 elements (including any rank padding, which stays zero). */
  n: number;
  /** Decoupled weight decay applies (not to norms and biases in full fine-tuning, as is customary). */
  decay: boolean;
}

export interface Trainable {
  mode: 'lora' | 'full';
  tensors: TrainableTensor[];
  /** LoRA: the adapter being trained, used by the forward pass. */
  lora: GpuLora | null;
  /** Full fine-tuning: gradient buffer of each model tensor, by Hugging Face name. */
  gradOf: Map<string, GPUBuffer>;
  /** LoRA: gradients of each module's factors, by module name. */
  loraGrads: Map<string, { a: GPUBuffer; b: GPUBuffer }>;
  /** Trainable parameters without padding. */
  count: number;
}

function zeros(gpu: Gpu, bytes: number, label: string): GPUBuffer {
  const b = gpu.pool.acquire(bytes, STORAGE, label);
  const enc = gpu.device.createCommandEncoder();
  enc.clearBuffer(b);
  gpu.device.queue.submit([enc.finish()]);
  return b;
}

function tensor(gpu: Gpu, name: string, param: GPUBuffer, n: number, decay: boolean): TrainableTensor {
  return { name, param, n, decay, grad: zeros(gpu, n * 4, `${name}.grad`), m: zeros(gpu, n * 4, `${name}.m`), v: zeros(gpu, n * 4, `${name}.v`) };
}

function single(m: GpuMatrix, what: string): GPUBuffer {
  if (m.chunks.length !== 1) throw new Error(`${what} is split across ${m.chunks.length} buffers; train it with LoRA instead`);
  return m.chunks[0]!.buffer;
}

export function loraTrainable(gpu: Gpu, weights: LoraWeights): Trainable {
  const lora = uploadLora(gpu, weights);
  const tensors: TrainableTensor[] = [];
  const loraGrads = new Map<string, { a: GPUBuffer; b: GPUBuffer }>();
  let count = 0;
  for (const [name, m] of lora.modules) {
    const ta = tensor(gpu, `${name}.lora_A`, single(m.a, name), m.a.rows * m.a.cols, true);
    const tb = tensor(gpu, `${name}.lora_B`, single(m.b, name), m.b.rows * m.b.cols, true);
    tensors.push(ta, tb);
    loraGrads.set(name, { a: ta.grad, b: tb.grad });
    const w = weights.modules.get(name)!;
    count += w.rank * (w.inFeatures + w.outFeatures);
  }
  return { mode: 'lora', tensors, lora, gradOf: new Map(), loraGrads, count };
}

/** Every weight of an f32-loaded model becomes trainable. */
export function fullTrainable(gpu: Gpu, weights: ModelWeights): Trainable {
  if (weights.dtype !== 'f32') throw new Error('full fine-tuning needs the model loaded in f32 (its fp32 master copy)');
  const tensors: TrainableTensor[] = [];
  const gradOf = new Map<string, GPUBuffer>();
  const add = (name: string, buf: GPUBuffer, n: number, decay: boolean) => {
    const t = tensor(gpu, name, buf, n, decay);
    tensors.push(t);
    gradOf.set(name, t.grad);
  };
  add('model.embed_tokens.weight', single(weights.embed, 'the embedding'), weights.embed.rows * weights.embed.cols, true);
  if (weights.lmHead !== weights.embed) add('lm_head.weight', single(weights.lmHead, 'the LM head'), weights.lmHead.rows * weights.lmHead.cols, true);
  for (const [module, l] of weights.linears) {
    add(`${module}.weight`, single(l.w, module), l.w.rows * l.w.cols, true);
    if (l.bias) add(`${module}.bias`, l.bias, l.w.rows, false);
  }
  for (const [name, buf] of weights.vectors) {
    if (gradOf.has(name) || name.endsWith('.bias')) continue;
    add(name, buf, gpu.pool.sizeOf(buf) / 4, false);
  }
  return { mode: 'full', tensors, lora: null, gradOf, loraGrads: new Map(), count: tensors.reduce((s, t) => s + t.n, 0) };
}

/** Reads the trained LoRA factors back, without the rank padding. */
export async function readLoraWeights(gpu: Gpu, t: Trainable, shapes: LoraWeights): Promise<LoraWeights> {
  const modules: LoraWeights['modules'] = new Map();
  for (const [name, m] of t.lora!.modules) {
    const s = shapes.modules.get(name)!;
    modules.set(name, { ...s, ...(await readUnpadded(gpu, single(m.a, name), single(m.b, name), s)) });
  }
  return { modules };
}

export function releaseTrainable(gpu: Gpu, t: Trainable): void {
  for (const x of t.tensors) for (const b of [x.grad, x.m, x.v]) gpu.pool.destroy(b);
  t.tensors = [];
}
