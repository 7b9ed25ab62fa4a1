// Training presets: settings that suit most first runs, so a user can start with one click.

import type { TrainSettings } from '../protocol/messages.ts';

/** "Quick test": small enough to finish in about a minute on a laptop GPU. */
export const QUICK_PRESET: TrainSettings = {
  rank: 8,
  alpha: 16,
  dropout: 0,
  rslora: false,
  targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  lr: 3e-3,
  schedule: 'cosine',
  warmup: 0,
  steps: 40,
  epochs: 1,
  batchSize: 8,
  gradAccum: 1,
  seqLen: 128,
  valSplit: 0.1,
  evalEvery: 10,
  seed: 0,
  format: 'auto',
  mask: 'prompt',
  packing: false,
};
