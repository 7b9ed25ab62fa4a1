// A LoRA adapter in memory, with PEFT semantics: for each targeted linear layer,
// y = W x + b + scaling * B (A x), scaling = lora_alpha / r (or / sqrt(r) with rsLoRA).
// Dimension key: r = rank, in/out = the layer's features.   a: [r, in]   b: [out, r]

export interface LoraModuleWeights {
  rank: number;
  inFeatures: number;
  outFeatures: number;
  scaling: number;
  a: Float32Array; // [r, in]
  b: Float32Array; // [out, r]
}

export interface LoraWeights {
  /** By module name, e.g. "model.layers.0.self_attn.q_proj". */
  modules: Map<string, LoraModuleWeights>;
}

export function loraScaling(alpha: number, rank: number, rslora: boolean): number {
  return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
}
