// RoPE inverse frequencies shared by the engine and the CPU reference.
// Dimension key: D = head dim; the result is [D/2].

import type { ModelConfig } from './config.ts';

/** RoPE inverse frequencies [D/2], with Llama 3 scaling as transformers' _compute_llama3_parameters. */
export function ropeInvFreq(cfg: ModelConfig): Float64Array {
  const D = cfg.headDim;
  const inv = new Float64Array(D / 2);
  for (let j = 0; j < D / 2; j++) inv[j] = 1 / cfg.ropeTheta ** ((2 * j) / D);
  // llama.cpp divides each pair's angle by its factor: theta = pos * inv_freq / factor.
  if (cfg.ropeFreqFactors) return inv.map((f, j) => f / cfg.ropeFreqFactors![j]!);
  const s = cfg.ropeScaling;
  if (s.type !== 'llama3') return inv;
  const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let j = 0; j < D / 2; j++) {
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
