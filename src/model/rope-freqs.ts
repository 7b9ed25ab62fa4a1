// RoPE inverse frequencies shared by the engine and the CPU reference.
// Dimension key: D = head dim; the result is [D/2].

import type { ModelConfig, RopeScaling } from './config.ts';

/**
 * Which RoPE a layer uses: 'global' (ropeTheta, ropeScaling) or 'local', Gemma 3's sliding layers'
 * own base (cfg.localRope). Every layer is global when the model has no localRope.
 */
export type RopeKind = 'global' | 'local';

/**
 * RoPE inverse frequencies [D/2]: theta^(-2j/D), scaled as transformers' rope functions do
 * (linear: divided by factor; llama3: _compute_llama3_parameters).
 */
export function ropeInvFreq(cfg: ModelConfig, kind: RopeKind = 'global'): Float64Array {
  const D = cfg.headDim;
  const local = kind === 'local' && cfg.localRope ? cfg.localRope : null;
  const theta = local ? local.theta : cfg.ropeTheta;
  const inv = new Float64Array(D / 2);
  for (let j = 0; j < D / 2; j++) inv[j] = 1 / theta ** ((2 * j) / D);
  // llama.cpp divides each pair's angle by its factor: theta = pos * inv_freq / factor.
  if (!local && cfg.ropeFreqFactors) return inv.map((f, j) => f / cfg.ropeFreqFactors![j]!);
  return scaled(inv, local ? local.scaling : cfg.ropeScaling);
}

function scaled(inv: Float64Array, s: RopeScaling): Float64Array {
  if (s.type === 'linear') return inv.map((f) => f / s.factor);
  if (s.type !== 'llama3') return inv;
  const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let j = 0; j < inv.length; j++) {
    const f = inv[j]!;
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowFreqWavelen) inv[j] = f / s.factor;
    else if (wavelen >= highFreqWavelen) {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[j] = ((1 - smooth) * f) / s.factor + smooth * f;
    }
  }
  return inv;
}
