// The parameter table of a causal LM: every tensor the checkpoint must hold, with its shape.
// Dimension key: V = vocab, H = hidden, I = intermediate, nH = query heads, nKV = kv heads, D = head dim.

import type { ModelConfig } from './config.ts';

export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

export interface ParamSpec {
  name: string;
  shape: number[];
}

/** An RMSNorm weight (every 1-d tensor but the biases): Gemma stores these as offsets from 1. */
export function isNormWeight(name: string): boolean {
  return /norm\.weight$/.test(name);
}

/** Full module name of a linear layer, e.g. "model.layers.3.self_attn.q_proj". */
export function linearName(layer: number, module: LinearModule): string {
  const block = module === 'gate_proj' || module === 'up_proj' || module === 'down_proj' ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${block}.${module}`;
}

/** [out_features, in_features] of a linear layer, as nn.Linear stores its weight. */
export function linearShape(cfg: ModelConfig, module: LinearModule): [number, number] {
  const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: nKV, headDim: D } = cfg;
  switch (module) {
    case 'q_proj':
      return [nH * D, H];
    case 'k_proj':
    case 'v_proj':
      return [nKV * D, H];
    case 'o_proj':
      return [H, nH * D];
    case 'gate_proj':
    case 'up_proj':
      return [I, H];
    case 'down_proj':
      return [H, I];
  }
}

export function hasBias(cfg: ModelConfig, module: LinearModule): boolean {
  if (module === 'q_proj' || module === 'k_proj' || module === 'v_proj') return cfg.qkvBias;
  if (module === 'o_proj') return cfg.oBias;
  return cfg.mlpBias;
}

/** Every tensor the model needs, in load order. */
export function modelParams(cfg: ModelConfig): ParamSpec[] {
  const { vocabSize: V, hiddenSize: H, headDim: D } = cfg;
  const out: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [V, H] }];
  for (let l = 0; l < cfg.numLayers; l++) {
    out.push({ name: `model.layers.${l}.input_layernorm.weight`, shape: [H] });
    for (const m of LINEAR_MODULES) {
      const name = linearName(l, m);
      const shape = linearShape(cfg, m);
      out.push({ name: `${name}.weight`, shape });
      if (hasBias(cfg, m)) out.push({ name: `${name}.bias`, shape: [shape[0]] });
    }
    if (cfg.qkNorm) {
      out.push({ name: `model.layers.${l}.self_attn.q_norm.weight`, shape: [D] });
      out.push({ name: `model.layers.${l}.self_attn.k_norm.weight`, shape: [D] });
    }
    out.push({ name: `model.layers.${l}.post_attention_layernorm.weight`, shape: [H] });
    if (cfg.sandwichNorms) {
      out.push({ name: `model.layers.${l}.pre_feedforward_layernorm.weight`, shape: [H] });
      out.push({ name: `model.layers.${l}.post_feedforward_layernorm.weight`, shape: [H] });
    }
  }
  out.push({ name: 'model.norm.weight', shape: [H] });
  if (!cfg.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [V, H] });
  return out;
}
