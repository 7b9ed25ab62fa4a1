// Per-layer facts of a decoder that not every layer shares: its attention window, its RoPE, and the
// names of its norms (Llama's two, or Gemma 3's four). The reference, the inference forward and the
// training graph all ask here, so they cannot disagree.

import type { ModelConfig } from './config.ts';
import type { RopeKind } from './rope-freqs.ts';

/** The RoPE table layer l rotates q and k with: a loaded model's (or a forward context's) global or local one. */
export function layerRopeTable(m: { cfg: ModelConfig; ropeTable: GPUBuffer; localRopeTable: GPUBuffer | null }, l: number): GPUBuffer {
  return layerRope(m.cfg, l) === 'local' && m.localRopeTable ? m.localRopeTable : m.ropeTable;
}

/** How far back layer l attends: keys s with pos - s < window; null = every earlier key. */
export function layerWindow(cfg: ModelConfig, l: number): number | null {
  if (cfg.layerAttention && cfg.layerAttention[l] === 'full') return null;
  return cfg.slidingWindow;
}

/** Which RoPE table layer l rotates q and k with. */
export function layerRope(cfg: ModelConfig, l: number): RopeKind {
  return cfg.localRope && cfg.layerAttention?.[l] === 'sliding' ? 'local' : 'global';
}

export interface LayerNorms {
  /** Before q/k/v. */
  input: string;
  /** On the attention output before its residual add (Gemma 3's post_attention_layernorm); null = none. */
  attnOut: string | null;
  /** Before gate/up: Llama's post_attention_layernorm, Gemma 3's pre_feedforward_layernorm. */
  mlpIn: string;
  /** On the MLP output before its residual add (Gemma 3's post_feedforward_layernorm); null = none. */
  mlpOut: string | null;
}

/** Full tensor names of layer l's norm weights. */
export function layerNorms(cfg: ModelConfig, l: number): LayerNorms {
  const p = `model.layers.${l}`;
  if (!cfg.sandwichNorms) return { input: `${p}.input_layernorm.weight`, attnOut: null, mlpIn: `${p}.post_attention_layernorm.weight`, mlpOut: null };
  return {
    input: `${p}.input_layernorm.weight`,
    attnOut: `${p}.post_attention_layernorm.weight`,
    mlpIn: `${p}.pre_feedforward_layernorm.weight`,
    mlpOut: `${p}.post_feedforward_layernorm.weight`,
  };
}
