// Part of scenario "train": the memory a run holds when its rows are of varied length, as users'
// data is. Every micro-batch is padded to its own longest row, so each step asks the buffer pool for
// a different set of sizes; the peak must still stay at the plan, which is sized for the longest
// micro-batch the run can see (full-length rows). The bench's timed steps all have one length and
// cannot show this.
// Dimension key: B = sequences per micro-batch, T = the run's longest row (its seqLen).

import { type LoraConfig, initLora } from '../lora/config.ts';
import { destroyLora } from '../lora/gpu-lora.ts';
import type { TokenRow } from '../model/evaluate.ts';
import { planTrainingMemory } from '../train/memory-plan.ts';
import { DEFAULT_TRAIN, train } from '../train/trainer.ts';
import { loraTrainable, releaseTrainable } from '../train/trainable.ts';
import { seededRandom } from '../util/random.ts';
import type { BenchModel } from './model.ts';

export interface VariedMemory {
  steps: number;
  /** Highest bytes the pool held in the run, the model's weights included. */
  peakBytes: number;
  /** The plan the run printed: full-length rows, checkpointed activations. */
  planBytes: number;
  /** Row lengths drawn uniformly from this range. */
  minLength: number;
  maxLength: number;
  tokensPerSecond: number;
}

/** `steps` optimizer steps on rows of lengths seqLen/8 .. seqLen, with the trainer's own budget. */
export async function runVariedMemory(bm: BenchModel, o: { lc: LoraConfig; batch: number; seqLen: number; steps: number }): Promise<VariedMemory> {
  const { model } = bm;
  const gpu = model.gpu;
  const cfg = model.cfg;
  const plan = planTrainingMemory(cfg, { weightBytes: model.weights.bytes, lora: o.lc, B: o.batch, T: o.seqLen, checkpointing: 'on' });
  const random = seededRandom(11);
  const minLength = Math.max(2, Math.floor(o.seqLen / 8));
  const rows: TokenRow[] = Array.from({ length: o.steps * o.batch }, () => ({
    inputIds: Array.from({ length: minLength + Math.floor(random() * (o.seqLen - minLength + 1)) }, () => Math.floor(random() * cfg.vocabSize)),
  }));
  gpu.pool.trim();
  gpu.pool.resetPeak();
  const trainable = loraTrainable(gpu, initLora(cfg, o.lc, 0));
  try {
    const r = await train(model, trainable, rows, null, {
      ...DEFAULT_TRAIN, lr: 1e-4, steps: o.steps, batchSize: o.batch, seqLen: o.seqLen, schedule: 'constant', checkpointing: true, memoryBudget: plan.total,
    });
    const tokens = rows.reduce((s, r) => s + r.inputIds.length - 1, 0);
    return { steps: r.steps, peakBytes: r.peakBytes, planBytes: plan.total, minLength, maxLength: o.seqLen, tokensPerSecond: tokens / (r.elapsedMs / 1000) };
  } finally {
    model.lora = null;
    releaseTrainable(gpu, trainable);
    if (trainable.lora) destroyLora(gpu, trainable.lora);
    gpu.pool.trim();
  }
}
