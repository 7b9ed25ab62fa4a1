// Scenario "train": LoRA training steps through the real trainer (src/train/trainer.ts) on the
// bench model, with the step's useful FLOPs, its efficiency against our own best matmul, and the
// measured peak GPU memory against the trainer's analytic plan.
// Dimension key: B = sequences per step, T = tokens per sequence, R = B*T, H = hidden,
// V = vocab, nH = query heads, D = head dim, L = layers, r = LoRA rank.

import { type LoraConfig, DEFAULT_LORA, adaptedModules, initLora, trainableParameterCount } from '../lora/config.ts';
import { destroyLora } from '../lora/gpu-lora.ts';
import type { ModelConfig } from '../model/config.ts';
import type { TokenRow } from '../model/evaluate.ts';
import { LINEAR_MODULES, linearShape } from '../model/params.ts';
import { planTrainingMemory } from '../train/memory-plan.ts';
import { DEFAULT_TRAIN, train } from '../train/trainer.ts';
import { loraTrainable, releaseTrainable } from '../train/trainable.ts';
import { seededRandom } from '../util/random.ts';
import type { BenchModel } from './model.ts';
import type { MemoryReport, StepFlops, TrainReport } from './report.ts';

export interface TrainOptions {
  batch: number;
  seqLen: number;
  rank: number;
  warmupSteps: number;
  timedSteps: number;
  /** Measures our best matmul GFLOP/s now; called before and after the timed steps. */
  measureReference: () => Promise<number>;
  referenceSource: string;
  /** Our best of the matmul scenario in this run, if it ran. */
  matmulBestGflops: number | null;
  onProgress?: (line: string) => void;
}

/** Useful FLOPs of one LoRA step (see StepFlops), plus what checkpointing and the two-pass loss redo. */
export function loraStepFlops(cfg: ModelConfig, lc: LoraConfig, B: number, T: number, checkpointing: boolean): StepFlops {
  const R = B * T;
  const L = cfg.numLayers;
  const linearParams = LINEAR_MODULES.reduce((s, m) => s + linearShape(cfg, m).reduce((a, b) => a * b, 1), 0); // one layer
  const head = cfg.vocabSize * cfg.hiddenSize;
  const adapted = adaptedModules(cfg, lc);
  // Backward runs from the top down to the lowest adapted layer; below it nothing needs a gradient.
  const lowest = Math.min(...adapted.map(([name]) => Number(name.split('.')[2])));
  const loraPerToken = adapted.reduce((s, [, m]) => s + lc.rank * linearShape(cfg, m).reduce((a, b) => a + b, 0), 0);
  const pairs = (T * (T + 1)) / 2; // causal query-key pairs per sequence
  const attnForward = 4 * B * cfg.numHeads * cfg.headDim * pairs; // per layer: QK^T and PV
  const frozenForward = 2 * R * (L * linearParams + head);
  const frozenInputGrad = 2 * R * ((L - lowest) * linearParams + head);
  const lora = 6 * R * loraPerToken;
  const attention = 3 * attnForward * L - 2 * attnForward * lowest;
  const recomputedLayers = checkpointing ? L - lowest : 0;
  const loraForwardOfLayer = (l: number) => 2 * R * adapted.filter(([name]) => Number(name.split('.')[2]) === l).reduce((s, [, m]) => s + lc.rank * linearShape(cfg, m).reduce((a, b) => a + b, 0), 0);
  let recompute = 2 * R * head; // the loss's second pass over the LM head
  for (let l = lowest; l < lowest + recomputedLayers; l++) recompute += 2 * R * linearParams + attnForward + loraForwardOfLayer(l);
  return { frozenForward, frozenInputGrad, lora, attention, useful: frozenForward + frozenInputGrad + lora + attention, recompute };
}

export async function runTrain(bm: BenchModel, o: TrainOptions): Promise<{ train: TrainReport; memory: MemoryReport }> {
  const { model } = bm;
  const gpu = model.gpu;
  const cfg = model.cfg;
  const lc: LoraConfig = { ...DEFAULT_LORA, rank: o.rank, alpha: 2 * o.rank, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] };
  const plan = planTrainingMemory(cfg, { weightBytes: model.weights.bytes, lora: lc, B: o.batch, T: o.seqLen, checkpointing: 'auto' });
  // Steps and reference matmuls alternate (ref, step, ref, step, ..., ref), and each counts its best:
  // on a shared machine the load changes within seconds, and the least disturbed run is the fairest
  // estimate of both. The reference's buffers would count in the pool's peak, so the peak is taken
  // over the stretches between references (each reference ends with the pool trimmed and the peak
  // reset to what is live: the model and the adapter's state).
  let peakBytes = 0;
  const refs: number[] = [];
  const reference = async () => {
    peakBytes = Math.max(peakBytes, gpu.pool.stats().peakBytes);
    refs.push(await o.measureReference());
    gpu.pool.trim();
    gpu.pool.resetPeak();
  };
  await reference();
  const trainable = loraTrainable(gpu, initLora(cfg, lc, 0));
  const steps = o.warmupSteps + o.timedSteps;
  const random = seededRandom(7);
  const rows: TokenRow[] = Array.from({ length: steps * o.batch }, () => ({
    inputIds: Array.from({ length: o.seqLen }, () => Math.floor(random() * cfg.vocabSize)),
  }));
  const settings = {
    ...DEFAULT_TRAIN, lr: 1e-4, steps: 1, batchSize: o.batch, gradAccum: 1, seqLen: o.seqLen, schedule: 'constant' as const, checkpointing: plan.checkpointing,
  };
  // Each step is one whole trainer run of one step: from encoding the step to reading its loss back.
  const times: number[] = [];
  let finalLoss = NaN;
  try {
    for (let i = 0; i < steps; i++) {
      const timed = i >= o.warmupSteps;
      if (timed) await reference();
      const t0 = performance.now();
      const r = await train(model, trainable, rows.slice(i * o.batch, (i + 1) * o.batch), null, settings);
      const ms = performance.now() - t0;
      if (timed) times.push(ms);
      finalLoss = r.finalLoss;
      o.onProgress?.(`train step ${i + 1}/${steps}${timed ? '' : ' (warm-up)'}: ${ms.toFixed(0)} ms, loss ${r.finalLoss.toFixed(3)}`);
    }
    await reference();
  } finally {
    model.lora = null;
    releaseTrainable(gpu, trainable);
    if (trainable.lora) destroyLora(gpu, trainable.lora);
  }
  const stepMs = Math.min(...times);
  const referenceGflops = Math.max(...refs);
  const flops = loraStepFlops(cfg, lc, o.batch, o.seqLen, plan.checkpointing);
  const usefulGflops = flops.useful / (stepMs * 1e6);
  return {
    train: {
      model: bm.report,
      lora: { rank: lc.rank, alpha: lc.alpha, targets: [...lc.targets], trainableParams: trainableParameterCount(cfg, lc) },
      batch: o.batch,
      seqLen: o.seqLen,
      timedSteps: o.timedSteps,
      warmupSteps: o.warmupSteps,
      checkpointing: plan.checkpointing,
      stepMs,
      meanStepMs: times.reduce((a, b) => a + b, 0) / times.length,
      tokensPerSecond: (o.batch * o.seqLen) / (stepMs / 1000),
      flops,
      usefulGflops,
      referenceGflops,
      referenceSource: o.referenceSource,
      efficiency: usefulGflops / referenceGflops,
      matmulBestGflops: o.matmulBestGflops,
      efficiencyVsMatmulBest: o.matmulBestGflops === null ? null : usefulGflops / o.matmulBestGflops,
      finalLoss,
    },
    memory: {
      peakBytes,
      plan: { weights: plan.weights, trainable: plan.trainable, activations: plan.activations, total: plan.total, checkpointing: plan.checkpointing },
      ratio: peakBytes / plan.total,
    },
  };
}
