// A random LoRA adapter (non-zero A and B) as both the engine's LoraWeights and the reference's form.

import type { LoraWeights } from '../../src/lora/adapter.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { LINEAR_MODULES, linearName, linearShape } from '../../src/model/params.ts';
import type { ReferenceLora } from '../../src/model/reference.ts';
import { randomArray } from './close.ts';

export function randomLora(cfg: ModelConfig, rank: number, scaling: number, seed: number, scale = 0.3): { weights: LoraWeights; ref: ReferenceLora } {
  const weights: LoraWeights = { modules: new Map() };
  const ref: ReferenceLora = { scaling, rank, a: new Map(), b: new Map() };
  for (let l = 0; l < cfg.numLayers; l++) {
    for (const m of LINEAR_MODULES) {
      const name = linearName(l, m);
      const [out, inp] = linearShape(cfg, m);
      const a = Float32Array.from(randomArray(rank * inp, seed++, scale));
      const b = Float32Array.from(randomArray(out * rank, seed++, scale));
      weights.modules.set(name, { rank, inFeatures: inp, outFeatures: out, scaling, a, b });
      ref.a.set(name, Float64Array.from(a));
      ref.b.set(name, Float64Array.from(b));
    }
  }
  return { weights, ref };
}
