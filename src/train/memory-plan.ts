// The memory a training run will hold on the GPU, computed before anything is allocated, so a run
// that cannot fit fails with what it needs against what the device offers.
// Dimension key: R = B*T rows, H = hidden, I = intermediate, nH/nKV = heads, D = head dim, V = vocab,
// L = layers, r4 = LoRA rank padded to 4.

import type { LoraConfig } from '../lora/config.ts';
import { adaptedModules } from '../lora/config.ts';
import { padRank } from '../lora/gpu-lora.ts';
import type { ModelConfig } from '../model/config.ts';
import { linearShape, modelParams } from '../model/params.ts';

export interface MemoryPlan {
  weights: number;
  /** Parameters, gradients and the two AdamW moments of what is trained (f32). */
  trainable: number;
  activations: number;
  total: number;
  checkpointing: boolean;
}

const LOGITS_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * `checkpointing: 'auto'` recomputes each layer in the backward pass only when keeping every layer's
 * activations would not fit `budget` (bytes the device may use); recomputing costs about a third of
 * the step. Without a budget it is on whenever there is more than one layer.
 */
export function planTrainingMemory(
  cfg: ModelConfig,
  o: { weightBytes: number; lora: LoraConfig | null; B: number; T: number; checkpointing: 'auto' | 'on' | 'off'; budget?: number },
): MemoryPlan {
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: nKV, headDim: D, numLayers: L, vocabSize: V } = cfg;
  const R = o.B * o.T;
  let trainableFloats = 0;
  let loraActFloats = 0;
  if (o.lora) {
    const r4 = padRank(o.lora.rank);
    for (const [, m] of adaptedModules(cfg, o.lora)) {
      const [out, inp] = linearShape(cfg, m);
      trainableFloats += r4 * (inp + out);
    }
    for (const m of o.lora.targets) loraActFloats += R * r4 + (o.lora.dropout > 0 ? R * linearShape(cfg, m)[1] : 0);
  } else {
    trainableFloats = modelParams(cfg).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  }
  // Sandwich norms (Gemma 3) keep the attention and MLP outputs before their norms, and their backward two [R, H] gradients.
  const sandwich = cfg.sandwichNorms ? 2 * R * H : 0;
  const perLayer = R * (3 * H + 3 * nH * D + 3 * nKV * D + nH + 3 * I) + sandwich + loraActFloats;
  // q/k norms (Qwen3, Gemma 3): the gradients of q and k before their norms, beside those after.
  const qkNormGrads = cfg.qkNorm ? R * (nH + nKV) * D : 0;
  const backwardTemps = R * (3 * H + 3 * I + 3 * nH * D + 3 * nKV * D) + sandwich + qkNormGrads;
  const logits = Math.min(LOGITS_CHUNK_BYTES / 4, R * V);
  const trainable = trainableFloats * 16; // param, grad, m, v
  // Full fine-tuning trains the weights in place: they are counted once, as trainable.
  const weights = o.lora ? o.weightBytes : 0;
  const plan = (checkpointing: boolean): MemoryPlan => {
    const activationFloats = (L + 1) * R * H + 4 * R * H + R * 4 + logits + backwardTemps + perLayer * (checkpointing ? 1 : L);
    const activations = activationFloats * 4;
    return { weights, trainable, activations, total: weights + trainable + activations, checkpointing };
  };
  if (o.checkpointing !== 'auto') return plan(o.checkpointing === 'on');
  if (L <= 1) return plan(false);
  const kept = plan(false);
  return o.budget !== undefined && kept.total <= o.budget ? kept : plan(true);
}
