// The sample datasets the app serves (public/datasets), and the default training preset for them.

import type { DatasetSource, TrainSettings } from '../protocol/messages.ts';

export const SAMPLE_DATASETS = [
  { file: 'verily.jsonl', label: 'Answer style: "Verily, ... Amen." (prompt/completion)' },
  { file: 'finish-the-verse.jsonl', label: 'Finish the verse (chat)' },
  { file: 'psalms.txt', label: 'Psalms (plain text)' },
] as const;

export function sampleSource(file: string): DatasetSource {
  return { kind: 'url', url: new URL(`datasets/${file}`, document.baseURI).href, name: file };
}

/** "Quick test": small enough to finish in about a minute on a laptop GPU. */
export const QUICK_PRESET: TrainSettings = {
  rank: 8,
  alpha: 16,
  dropout: 0,
  targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  lr: 3e-3,
  steps: 40,
  batchSize: 8,
  seqLen: 128,
  valSplit: 0.1,
  evalEvery: 10,
  seed: 0,
};
