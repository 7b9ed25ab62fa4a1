// The memory plan of a training run from what is known before a download: a config.json alone, a
// checkpoint's headers, or a GGUF header. The same numbers `train` checks against the device, plus
// whether they fit a given budget and, when not, which term to cut and how.

import type { Checkpoint } from '../formats/checkpoint.ts';
import type { LoraConfig } from '../lora/config.ts';
import type { ModelConfig } from '../model/config.ts';
import { planWeights, type WeightPrecision } from '../model/weights.ts';
import { formatBytes } from '../util/format.ts';
import { type MemoryPlan, planTrainingMemory } from './memory-plan.ts';

export interface ModelPlanOptions {
  precision: WeightPrecision;
  /** null: full fine-tuning. */
  lora: LoraConfig | null;
  B: number;
  T: number;
  checkpointing: 'auto' | 'on' | 'off';
  /** Bytes the device may use; null when unknown. */
  budget: number | null;
}

export interface ModelPlan extends MemoryPlan {
  /** null when no budget was given. */
  fits: boolean | null;
  budget: number | null;
  /** How many frozen matrices in each GPU dtype. */
  weightDtypes: Record<string, number>;
  /** When it does not fit: the largest term and what would shrink it. */
  advice: string | null;
}

export function planModel(cfg: ModelConfig, ckpt: Checkpoint | null, o: ModelPlanOptions): ModelPlan {
  const w = planWeights(cfg, ckpt, o.precision);
  const weightDtypes: Record<string, number> = {};
  for (const t of w.tensors) if (t.matrixDtype) weightDtypes[t.matrixDtype] = (weightDtypes[t.matrixDtype] ?? 0) + 1;
  const plan = planTrainingMemory(cfg, { weightBytes: w.bytes, lora: o.lora, B: o.B, T: o.T, checkpointing: o.checkpointing, budget: o.budget ?? undefined });
  const fits = o.budget === null ? null : plan.total <= o.budget;
  return { ...plan, fits, budget: o.budget, weightDtypes, advice: fits === false ? adviceFor(plan, o, weightDtypes) : null };
}

function adviceFor(plan: MemoryPlan, o: ModelPlanOptions, dtypes: Record<string, number>): string {
  const over = `${formatBytes(plan.total)} needed, ${formatBytes(o.budget!)} available`;
  const terms: [string, number][] = [
    ['weights', plan.weights],
    ['activations', plan.activations],
    ['trainable state', plan.trainable],
  ];
  const [largest, bytes] = terms.sort((a, b) => b[1] - a[1])[0]!;
  const quantized = Object.keys(dtypes).every((d) => d.startsWith('Q'));
  let cut: string;
  if (largest === 'weights') {
    cut = !o.lora
      ? 'full fine-tuning keeps every weight in f32 with its gradient and optimizer state; train a LoRA adapter instead'
      : quantized
        ? 'the frozen weights are already quantized; pick a smaller model or a lower-bit GGUF (e.g. Q3_K_M)'
        : 'keep the frozen weights in 4 bits: --base-weights q4_k (about 0.28x the 16-bit size), or q8_0 (0.53x)';
  } else if (largest === 'activations') {
    cut = `${plan.checkpointing ? '' : 'turn on --checkpointing (recompute each layer in backward), '}lower --seq-len (${o.T}) or --batch-size (${o.B}); use --grad-accum for the same effective batch`;
  } else {
    cut = o.lora ? 'lower --rank or adapt fewer modules (--targets)' : 'train a LoRA adapter instead of every weight';
  }
  return `does not fit: ${over}; the largest term is ${largest} (${formatBytes(bytes)}): ${cut}`;
}
