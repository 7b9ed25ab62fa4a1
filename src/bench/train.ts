// Scenario "train": LoRA training steps through the real trainer (src/train/trainer.ts) on the
// bench model, with the step's useful FLOPs, its efficiency against our own best matmul, and the
// measured peak GPU memory against the trainer's analytic plan. The same step written with
// TensorFlow.js autodiff (tfjs-train.ts) runs on the same rows after each of ours, so load from
// other processes hits both alike; its first loss is checked against ours.
// Dimension key: B = sequences per step, T = tokens per sequence, R = B*T, H = hidden,
// V = vocab, nH = query heads, D = head dim, L = layers, r = LoRA rank.

import { type LoraConfig, DEFAULT_LORA, adaptedModules, initLora, trainableParameterCount } from '../lora/config.ts';
import { destroyLora } from '../lora/gpu-lora.ts';
import type { ModelConfig } from '../model/config.ts';
import type { TokenRow } from '../model/evaluate.ts';
import { LINEAR_MODULES, type LinearModule, linearName, linearShape } from '../model/params.ts';
import { layerBackwardPlan } from '../train/backward-plan.ts';
import { logitsBlockCount } from '../model/lm-head.ts';
import { planTrainingMemory } from '../train/memory-plan.ts';
import { DEFAULT_TRAIN, train } from '../train/trainer.ts';
import { loraTrainable, releaseTrainable } from '../train/trainable.ts';
import { seededRandom } from '../util/random.ts';
import type { BenchModel } from './model.ts';
import type { StepMemoryReport, StepFlops, TrainReport, TrainTfjsReport } from './report.ts';
import type { TfjsPeer } from './tfjs.ts';
import { buildTfjsLora, safetensorsF32, type TfjsLoraModel } from './tfjs-train.ts';

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
  /** TensorFlow.js, for the same step written with its autodiff; null: not run (tfjsError says why). */
  tfjs: TfjsPeer | null;
  tfjsError?: string | null;
  onProgress?: (line: string) => void;
}

/**
 * Useful FLOPs of one LoRA step (see StepFlops), plus what checkpointing and the two-pass loss redo
 * (`lossRecompute`: the logits did not fit one block, so the loss's second pass computes them again).
 */
export function loraStepFlops(cfg: ModelConfig, lc: LoraConfig, B: number, T: number, checkpointing: boolean, lossRecompute = true): StepFlops {
  const R = B * T;
  const L = cfg.numLayers;
  const params = (m: LinearModule) => linearShape(cfg, m).reduce((a, b) => a * b, 1);
  const linearParams = LINEAR_MODULES.reduce((s, m) => s + params(m), 0); // one layer
  const head = cfg.vocabSize * cfg.hiddenSize;
  const adapted = adaptedModules(cfg, lc);
  const names = new Set(adapted.map(([name]) => name));
  // Backward runs from the top down to the lowest adapted layer; below it nothing needs a gradient,
  // and in that layer only what its adapters need (backward-plan.ts, the trainer's own rule).
  const lowest = Math.min(...adapted.map(([name]) => Number(name.split('.')[2])));
  const loraPerToken = adapted.reduce((s, [, m]) => s + lc.rank * linearShape(cfg, m).reduce((a, b) => a + b, 0), 0);
  const pairs = (T * (T + 1)) / 2; // causal query-key pairs per sequence
  const attnForward = 4 * B * cfg.numHeads * cfg.headDim * pairs; // per layer: QK^T and PV
  let frozenInputGrad = 2 * R * head;
  let attention = attnForward * L;
  for (let l = lowest; l < L; l++) {
    const plan = layerBackwardPlan((m) => names.has(linearName(l, m)), l > lowest);
    for (const m of plan.inputGradOf) frozenInputGrad += 2 * R * params(m);
    if (plan.attention) attention += 2 * attnForward;
  }
  const frozenForward = 2 * R * (L * linearParams + head);
  const lora = 6 * R * loraPerToken;
  const recomputedLayers = checkpointing ? L - lowest : 0;
  const loraForwardOfLayer = (l: number) => 2 * R * adapted.filter(([name]) => Number(name.split('.')[2]) === l).reduce((s, [, m]) => s + lc.rank * linearShape(cfg, m).reduce((a, b) => a + b, 0), 0);
  let recompute = lossRecompute ? 2 * R * head : 0; // the loss's second pass over the LM head
  for (let l = lowest; l < lowest + recomputedLayers; l++) recompute += 2 * R * linearParams + attnForward + loraForwardOfLayer(l);
  return { frozenForward, frozenInputGrad, lora, attention, useful: frozenForward + frozenInputGrad + lora + attention, recompute };
}

/** The adapter every bench step trains: attention projections, alpha = 2r. */
export function benchLora(rank: number): LoraConfig {
  return { ...DEFAULT_LORA, rank, alpha: 2 * rank, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] };
}

export async function runTrain(bm: BenchModel, o: TrainOptions): Promise<{ train: TrainReport; memory: StepMemoryReport }> {
  const { model } = bm;
  const gpu = model.gpu;
  const cfg = model.cfg;
  const lc = benchLora(o.rank);
  // The timed steps checkpoint only if keeping every layer's activations would not fit: the device
  // lets one buffer be maxBufferSize bytes, so it has at least that much (WebGPU tells no more).
  // The memory figure is the reference scenario with checkpointed activations, the plan's minimum:
  // when the timed steps keep their activations, one more step with checkpointing measures it.
  const shape = { weightBytes: model.weights.bytes, lora: lc, B: o.batch, T: o.seqLen };
  const plan = planTrainingMemory(cfg, { ...shape, checkpointing: 'auto', budget: gpu.limits.maxBufferSize });
  const memPlan = planTrainingMemory(cfg, { ...shape, checkpointing: 'on' });
  // Steps and reference matmuls alternate (ref, step, ref, step, ..., ref), and each counts its best:
  // on a shared machine the load changes within seconds, and the least disturbed run is the fairest
  // estimate of both. The reference runs on a buffer pool of its own (run.ts), so the steps keep their
  // buffers from one step to the next as in training, and this pool's peak is the steps' own, counted
  // from what is live once the model is loaded.
  const refs: number[] = [];
  const reference = async () => void refs.push(await o.measureReference());
  await reference();
  gpu.pool.trim();
  gpu.pool.resetPeak();
  const trainable = loraTrainable(gpu, initLora(cfg, lc, 0));
  let peakBytes = 0;
  const steps = o.warmupSteps + o.timedSteps;
  const random = seededRandom(7);
  const rows: TokenRow[] = Array.from({ length: steps * o.batch }, () => ({
    inputIds: Array.from({ length: o.seqLen }, () => Math.floor(random() * cfg.vocabSize)),
  }));
  const settings = {
    ...DEFAULT_TRAIN, lr: 1e-4, steps: 1, batchSize: o.batch, gradAccum: 1, seqLen: o.seqLen, schedule: 'constant' as const, checkpointing: plan.checkpointing,
  };
  // The TensorFlow.js peer: same weights (the bench model's safetensors), same LoRA initial values
  // (initLora, seed 0, as the trainable above), same AdamW settings. Whatever fails there is reported,
  // never thrown: our own figures stand without it.
  let peer: TfjsLoraModel | null = null;
  let tfjsError: string | null = o.tfjs ? null : (o.tfjsError ?? 'not run');
  const tfjsFailed = (e: unknown) => {
    tfjsError = e instanceof Error ? e.message : String(e);
    o.onProgress?.(`TensorFlow.js LoRA step failed: ${tfjsError}`);
    peer?.dispose();
    peer = null;
  };
  // TensorFlow.js shares our GPUDevice: its GPU errors are caught in error scopes around each of its
  // calls and reported as its failure, so they never reach our own error check.
  const scoped = async <X>(run: () => Promise<X>): Promise<X> => {
    gpu.device.pushErrorScope('validation');
    gpu.device.pushErrorScope('out-of-memory');
    gpu.device.pushErrorScope('internal');
    let result: X | undefined;
    let thrown: unknown = null;
    try {
      result = await run();
    } catch (e) {
      thrown = e;
    }
    const errors = [await gpu.device.popErrorScope(), await gpu.device.popErrorScope(), await gpu.device.popErrorScope()].filter((e) => e !== null);
    if (errors.length) throw new Error(`GPU error in TensorFlow.js: ${errors[0]!.message}`);
    if (thrown !== null) throw thrown;
    return result as X;
  };
  const tfPeer = o.tfjs;
  if (tfPeer) {
    try {
      await tfPeer.registerGradients();
      const weights = await safetensorsF32(bm.files);
      peer = await scoped(async () => buildTfjsLora(tfPeer.tf, {
        cfg, weights, lora: initLora(cfg, lc, 0), B: o.batch, T: o.seqLen,
        adamw: { lr: settings.lr, beta1: settings.beta1, beta2: settings.beta2, eps: settings.eps, weightDecay: settings.weightDecay, clip: settings.clip },
      }));
    } catch (e) {
      tfjsFailed(e);
    }
  }
  const tfTimes: number[] = [];
  let tfFirst: { loss: number; gradNorm: number } | null = null;
  let oursFirst: { loss: number; gradNorm: number } | null = null;
  let tensorsAfterFirst = 0;
  let tensorGrowth: number | null = null;
  // Each step is one whole trainer run of one step: from encoding the step to reading its loss back.
  const times: number[] = [];
  let finalLoss = NaN;
  try {
    for (let i = 0; i < steps; i++) {
      const timed = i >= o.warmupSteps;
      const batch = rows.slice(i * o.batch, (i + 1) * o.batch);
      if (timed) await reference();
      let gradNorm = NaN;
      const t0 = performance.now();
      const r = await train(model, trainable, batch, null, settings, { onStep: (s) => (gradNorm = s.gradNorm) });
      const ms = performance.now() - t0;
      if (timed) times.push(ms);
      finalLoss = r.finalLoss;
      if (i === 0) oursFirst = { loss: r.losses[0]!, gradNorm };
      o.onProgress?.(`train step ${i + 1}/${steps}${timed ? '' : ' (warm-up)'}: ${ms.toFixed(0)} ms, loss ${r.finalLoss.toFixed(3)}`);
      const tf = peer as TfjsLoraModel | null;
      if (tf) {
        try {
          const t1 = performance.now();
          const tr = await scoped(() => tf.step(batch.map((b) => b.inputIds)));
          const tms = performance.now() - t1;
          if (!Number.isFinite(tr.loss)) throw new Error(`its loss became ${tr.loss} at step ${i + 1}`);
          if (timed) tfTimes.push(tms);
          if (i === 0) {
            tfFirst = tr;
            tensorsAfterFirst = tf.numTensors();
          } else tensorGrowth = tf.numTensors() - tensorsAfterFirst;
          o.onProgress?.(`tfjs step ${i + 1}/${steps}${timed ? '' : ' (warm-up)'}: ${tms.toFixed(0)} ms, loss ${tr.loss.toFixed(3)}`);
        } catch (e) {
          tfjsFailed(e);
        }
      }
    }
    await reference();
    peakBytes = gpu.pool.stats().peakBytes;
    if (!plan.checkpointing) {
      const stepPeak = peakBytes;
      gpu.pool.trim();
      gpu.pool.resetPeak();
      await train(model, trainable, rows.slice(0, o.batch), null, { ...settings, checkpointing: true });
      peakBytes = gpu.pool.stats().peakBytes;
      o.onProgress?.(`memory: timed steps (activations kept) peak ${(stepPeak / 2 ** 20).toFixed(1)} MiB of a ${(plan.total / 2 ** 20).toFixed(1)} MiB plan; ` +
        `a checkpointed step ${(peakBytes / 2 ** 20).toFixed(1)} MiB of ${(memPlan.total / 2 ** 20).toFixed(1)} MiB`);
    }
  } finally {
    model.lora = null;
    releaseTrainable(gpu, trainable);
    if (trainable.lora) destroyLora(gpu, trainable.lora);
    (peer as TfjsLoraModel | null)?.dispose();
  }
  const stepMs = Math.min(...times);
  const referenceGflops = Math.max(...refs);
  const flops = loraStepFlops(cfg, lc, o.batch, o.seqLen, plan.checkpointing, logitsBlockCount(gpu, model.weights.lmHead, o.batch * o.seqLen) > 1);
  const usefulGflops = flops.useful / (stepMs * 1e6);
  const relDiff = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : Math.abs(a - b) / Math.abs(b));
  const ok = tfjsError === null && tfTimes.length === o.timedSteps;
  const tfStepMs = ok ? Math.min(...tfTimes) : null;
  const tfjs: TrainTfjsReport = {
    version: o.tfjs?.version ?? null,
    weightDtype: 'f32',
    how:
      'the same model, weights, LoRA initial values and rows, written with TensorFlow.js ops (f32 weights: its WebGPU backend has no 16-bit weight path), ' +
      'mean cross-entropy, LoRA gradients by tf.variableGrads (no activation checkpointing), AdamW with global-norm clipping as ours',
    warmupSteps: o.warmupSteps,
    timedSteps: o.timedSteps,
    stepMs: tfStepMs,
    meanStepMs: ok ? tfTimes.reduce((a, b) => a + b, 0) / tfTimes.length : null,
    tokensPerSecond: tfStepMs === null ? null : (o.batch * o.seqLen) / (tfStepMs / 1000),
    slowdown: tfStepMs === null ? null : tfStepMs / stepMs,
    firstLoss: tfFirst?.loss ?? null,
    oursFirstLoss: oursFirst?.loss ?? null,
    lossRelDiff: relDiff(tfFirst?.loss, oursFirst?.loss),
    gradNormRelDiff: relDiff(tfFirst?.gradNorm, oursFirst?.gradNorm),
    tensorGrowth: ok ? tensorGrowth : null,
    error: tfjsError,
  };
  if (tfStepMs !== null) {
    o.onProgress?.(`tfjs LoRA step ${tfStepMs.toFixed(0)} ms = ${tfjs.slowdown!.toFixed(2)}x ours; first loss ${tfjs.firstLoss!.toFixed(5)} vs ours ${tfjs.oursFirstLoss!.toFixed(5)} (rel. diff ${tfjs.lossRelDiff!.toExponential(1)})`);
  }
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
      tfjs,
      quantized: null,
      quantizedError: null,
    },
    memory: {
      peakBytes,
      plan: { weights: memPlan.weights, trainable: memPlan.trainable, activations: memPlan.activations, total: memPlan.total, checkpointing: memPlan.checkpointing },
      ratio: peakBytes / memPlan.total,
    },
  };
}
