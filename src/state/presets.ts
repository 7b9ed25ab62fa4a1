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

/**
 * "Quality": a longer, steadier run for a small model (up to ~1B parameters): a larger rank on every
 * linear layer, a learning rate below the quick test's (small models take more than the 2e-4 usual for
 * 7B ones), cosine decay after a short warmup, a few passes over the data, and an effective batch of
 * 16 rows through gradient accumulation so the step size does not hinge on one micro-batch.
 */
export const QUALITY_PRESET: TrainSettings = {
  ...QUICK_PRESET,
  rank: 16,
  alpha: 32,
  dropout: 0.05,
  rslora: false,
  targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  lr: 5e-4,
  schedule: 'cosine',
  // About 5% of a run of ~100 optimizer steps (some 500 rows, 3 epochs, 16 rows a step).
  warmup: 5,
  steps: 0,
  epochs: 3,
  batchSize: 8,
  gradAccum: 2,
  seqLen: 512,
  evalEvery: 20,
  seed: 0,
};
