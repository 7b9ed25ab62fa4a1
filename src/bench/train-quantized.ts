// The train scenario's quantized leg: the same LoRA step on the same model with its frozen base
// quantized on load (--base-weights q4_k), against the 16-bit base, steps alternating between the
// two so that load from other processes hits both alike. Reports the step time ratio and the bytes
// the frozen weights take on the GPU.

import { memoryFiles } from '../formats/byte-source.ts';
import { initLora, type LoraConfig } from '../lora/config.ts';
import { destroyLora } from '../lora/gpu-lora.ts';
import type { TokenRow } from '../model/evaluate.ts';
import { destroyModel, type LoadedModel, loadModel } from '../model/model.ts';
import type { WeightPrecision } from '../model/weights.ts';
import { DEFAULT_TRAIN, train } from '../train/trainer.ts';
import { loraTrainable, releaseTrainable, type Trainable } from '../train/trainable.ts';
import type { BenchModel } from './model.ts';
import type { QuantizedTrainReport } from './report.ts';

export interface QuantizedOptions {
  lc: LoraConfig;
  baseWeights: WeightPrecision;
  rows: TokenRow[];
  batch: number;
  seqLen: number;
  checkpointing: boolean;
  warmupSteps: number;
  timedSteps: number;
  onProgress?: (line: string) => void;
}

export async function runQuantizedTrain(bm: BenchModel, o: QuantizedOptions): Promise<QuantizedTrainReport> {
  const gpu = bm.model.gpu;
  const quantized = await loadModel(gpu, memoryFiles('bench-quantized', bm.files), { precision: o.baseWeights });
  const settings = { ...DEFAULT_TRAIN, lr: 1e-4, steps: 1, batchSize: o.batch, gradAccum: 1, seqLen: o.seqLen, schedule: 'constant' as const, checkpointing: o.checkpointing };
  const legs: { model: LoadedModel; trainable: Trainable; times: number[] }[] = [bm.model, quantized].map((model) => ({
    model,
    trainable: loraTrainable(gpu, initLora(model.cfg, o.lc, 0)),
    times: [],
  }));
  let firstLoss = NaN;
  try {
    const steps = o.warmupSteps + o.timedSteps;
    for (let i = 0; i < steps; i++) {
      const batch = o.rows.slice((i * o.batch) % o.rows.length).slice(0, o.batch);
      for (const [k, leg] of legs.entries()) {
        const t0 = performance.now();
        const r = await train(leg.model, leg.trainable, batch, null, settings);
        const ms = performance.now() - t0;
        if (i >= o.warmupSteps) leg.times.push(ms);
        if (i === 0 && k === 1) firstLoss = r.losses[0]!;
        o.onProgress?.(`${k === 0 ? '16-bit' : o.baseWeights} base, step ${i + 1}/${steps}${i < o.warmupSteps ? ' (warm-up)' : ''}: ${ms.toFixed(0)} ms`);
      }
    }
  } finally {
    for (const leg of legs) {
      leg.model.lora = null;
      releaseTrainable(gpu, leg.trainable);
      if (leg.trainable.lora) destroyLora(gpu, leg.trainable.lora);
    }
  }
  const best = (t: number[]) => Math.min(...t);
  const [full, quant] = legs as [(typeof legs)[0], (typeof legs)[0]];
  const report: QuantizedTrainReport = {
    baseWeights: o.baseWeights,
    weightDtypes: { ...quantized.weights.dtypes },
    stepMs: best(quant.times),
    baselineStepMs: best(full.times),
    slowdown: best(quant.times) / best(full.times),
    weightBytes: quantized.weights.bytes,
    baselineWeightBytes: bm.model.weights.bytes,
    weightRatio: quantized.weights.bytes / bm.model.weights.bytes,
    firstLoss,
  };
  destroyModel(quantized);
  return report;
}
