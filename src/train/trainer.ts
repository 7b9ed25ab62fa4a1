// The training loop: batches from token rows, gradient accumulation, the schedule, validation every
// N steps, best-checkpoint tracking and early stopping. It knows nothing of the UI: it reports only
// through callbacks. The GPU stays busy: each step's loss and gradient norm are read back while the
// next step runs, so a step never waits for its own numbers. A run can be checkpointed, stopped
// between steps and resumed exactly (train-state.ts).

import { readBuffer } from '../gpu/recorder.ts';
import { IGNORE_INDEX, lossesFromState } from '../kernels/cross-entropy.ts';
import { type EvalOptions, evaluate, type TokenRow } from '../model/evaluate.ts';
import type { LoadedModel } from '../model/model.ts';
import { seededRandom } from '../util/random.ts';
import { batchTargets, microStep } from './graph.ts';
import { type AdamWSettings, DEFAULT_ADAMW, Optimizer } from './optimizer.ts';
import { learningRate, type ScheduleKind } from './schedule.ts';
import { assertResumable, captureTrainState, restoreTrainState, type TrainState, type ValPoint } from './train-state.ts';
import type { Trainable } from './trainable.ts';

export interface TrainOptions extends AdamWSettings {
  /** Peak learning rate. */
  lr: number;
  /** Optimizer steps; default: `epochs` passes over the data. */
  steps?: number;
  /** Passes over the data when `steps` is not given (default 1). */
  epochs?: number;
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step. */
  gradAccum: number;
  /** Rows are cut to this many tokens. */
  seqLen: number;
  schedule: ScheduleKind;
  warmup: number;
  seed: number;
  /** LoRA dropout probability (0 = off). */
  dropout: number;
  checkpointing: boolean;
  /** Validation every this many steps (and at the end); 0 = only at the end. */
  evalEvery: number;
  /** Stop after this many validations without improvement; 0 = never. */
  patience: number;
  /** `onCheckpoint` every this many steps; 0 or absent = only when `shouldStop` ends the run. */
  checkpointEvery?: number;
  /** Continue this checkpoint (weights, moments, data position, history) instead of starting afresh. */
  resume?: TrainState;
  /**
   * Bytes of GPU memory the run may hold: its memory plan (memory-plan.ts). The buffer pool keeps
   * buffers for reuse up to it, so rows of every length reuse one set; absent, it keeps no more than
   * the run's own highest demand.
   */
  memoryBudget?: number;
}

export const DEFAULT_TRAIN: TrainOptions = {
  ...DEFAULT_ADAMW,
  lr: 2e-4,
  batchSize: 4,
  gradAccum: 1,
  seqLen: 512,
  schedule: 'cosine',
  warmup: 0,
  seed: 0,
  dropout: 0,
  checkpointing: true,
  evalEvery: 0,
  patience: 0,
};

export interface StepReport {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Target tokens trained on in this step. */
  tokens: number;
  tokensPerSecond: number;
  elapsedMs: number;
  etaMs: number;
  peakBytes: number;
}

export interface EvalReport {
  step: number;
  valLoss: number;
  valTokens: number;
  best: boolean;
}

export interface TrainerCallbacks {
  onStep?(r: StepReport): void;
  /** Awaited: the caller may use the model (e.g. generate a sample) before training goes on. */
  onEval?(r: EvalReport): void | Promise<void>;
  /** A new best validation loss: persist the weights now if they should outlive the run. */
  onBest?(r: EvalReport): void | Promise<void>;
  /**
   * Polled after each step but the last is submitted, once the step before it has been reported:
   * true ends the run after that step (checkpointed, no final validation). It is not earlier
   * because the step is already on the GPU when its predecessor's numbers arrive.
   */
  shouldStop?(): boolean | Promise<boolean>;
  /** A consistent snapshot (every `checkpointEvery` steps, and on stop); training waits for it. */
  onCheckpoint?(state: TrainState): void | Promise<void>;
}

export interface TrainResult {
  steps: number;
  /** Every step's loss, those before a resume included. */
  losses: number[];
  finalLoss: number;
  valHistory: ValPoint[];
  bestValLoss: number | null;
  bestStep: number | null;
  stoppedEarly: boolean;
  /** `shouldStop` ended the run before its last step. */
  stopped: boolean;
  peakBytes: number;
  /** Wall time of the whole run, validation included (and the time before a resume). */
  elapsedMs: number;
}

export class TrainingDivergedError extends Error {
  constructor(readonly step: number, loss: number) {
    super(`the loss became ${loss} at step ${step}; training stopped and the weights are those of step ${step - 1} (that step's update was skipped). Lower the learning rate or check the data`);
    this.name = 'TrainingDivergedError';
  }
}

interface Pending {
  step: number;
  lr: number;
  tokens: number;
  states: Promise<{ sum: number; count: number }>[];
  norm: Promise<ArrayBuffer>;
}

/** Row order for each epoch: a seeded shuffle, so a seed repeats a run exactly. */
function epochOrder(n: number, seed: number, epoch: number): number[] {
  const random = seededRandom((seed * 1000003 + epoch) >>> 0);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export function totalSteps(rows: number, o: Pick<TrainOptions, 'steps' | 'epochs' | 'batchSize' | 'gradAccum'>): number {
  return o.steps ?? Math.max(1, Math.ceil(((o.epochs ?? 1) * rows) / (o.batchSize * o.gradAccum)));
}

export async function train(
  model: LoadedModel,
  trainable: Trainable,
  data: TokenRow[],
  val: TokenRow[] | null,
  o: TrainOptions,
  cb: TrainerCallbacks = {},
): Promise<TrainResult> {
  const gpu = model.gpu;
  const total = totalSteps(data.length, o);
  const resume = o.resume;
  const budgetBefore = gpu.pool.budgetBytes;
  if (o.memoryBudget !== undefined) gpu.pool.setBudget(o.memoryBudget);
  if (resume) {
    assertResumable(resume, { totalSteps: total, seed: o.seed, dataRows: data.length });
    restoreTrainState(gpu, trainable, resume);
  }
  const optimizer = new Optimizer(gpu, trainable, o, resume?.optimizerSteps ?? 0);
  const evalOpts: EvalOptions = { seqLen: o.seqLen, batchSize: o.batchSize };
  model.lora = trainable.lora;
  const rows = data.map((r) => ({ ids: r.inputIds.slice(0, o.seqLen), labels: (r.labels ?? r.inputIds).slice(0, o.seqLen), positionIds: r.positionIds }));
  let epoch = resume?.dataOrder.epoch ?? 0;
  let order = epochOrder(rows.length, o.seed, epoch);
  let cursor = resume?.dataOrder.cursor ?? 0;
  const nextRows = (n: number) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      if (cursor >= order.length) {
        order = epochOrder(rows.length, o.seed, ++epoch);
        cursor = 0;
      }
      out.push(rows[order[cursor++]!]!);
    }
    return out;
  };

  const start = performance.now() - (resume?.elapsedMs ?? 0);
  const losses = resume ? [...resume.losses] : [];
  const valHistory = resume ? resume.valHistory.map((p) => ({ ...p })) : [];
  let trainedTokens = resume?.trainedTokens ?? 0;
  let best: ValPoint | null = resume?.best ? { ...resume.best } : null;
  let sinceBest = resume?.sinceBest ?? 0;
  let stoppedEarly = false;
  let stopped = false;
  let pending: Pending | null = null;

  const settle = async (p: Pending) => {
    const parts = await Promise.all(p.states);
    const sum = parts.reduce((s, x) => s + x.sum, 0);
    const count = parts.reduce((s, x) => s + x.count, 0);
    const loss = count ? sum / count : NaN;
    const gradNorm = new Float32Array(await p.norm)[0]!;
    if ((count > 0 && !Number.isFinite(loss)) || !Number.isFinite(gradNorm)) {
      throw new TrainingDivergedError(p.step, Number.isFinite(loss) ? gradNorm : loss);
    }
    losses.push(loss);
    trainedTokens += p.tokens;
    const elapsedMs = performance.now() - start;
    cb.onStep?.({
      step: p.step, totalSteps: total, loss, lr: p.lr, gradNorm, tokens: p.tokens,
      tokensPerSecond: trainedTokens / (elapsedMs / 1000), elapsedMs,
      etaMs: (elapsedMs / p.step) * (total - p.step), peakBytes: gpu.pool.stats().peakBytes,
    });
  };

  const validate = async (step: number) => {
    if (!val || val.length === 0) return;
    const r = await evaluate(model, val, evalOpts);
    const isBest = !best || r.loss < best.valLoss;
    const report: EvalReport = { step, valLoss: r.loss, valTokens: r.tokens, best: isBest };
    valHistory.push({ step, valLoss: r.loss });
    await cb.onEval?.(report);
    if (isBest) {
      best = { step, valLoss: r.loss };
      sinceBest = 0;
      await cb.onBest?.(report);
    } else sinceBest++;
  };

  let lastStep = resume?.step ?? 0;
  let validatedAt = valHistory[valHistory.length - 1]?.step ?? -1;
  // The step's own numbers are settled first, so the snapshot and the history agree.
  const checkpoint = async () => {
    if (!cb.onCheckpoint) return;
    if (pending) await settle(pending);
    pending = null;
    const state = await captureTrainState(gpu, trainable, optimizer, {
      step: lastStep, totalSteps: total, seed: o.seed, dataRows: rows.length, losses, valHistory, best, sinceBest,
      trainedTokens, elapsedMs: performance.now() - start, dataOrder: { epoch, cursor },
    });
    await cb.onCheckpoint(state);
  };

  const every = o.checkpointEvery ?? 0;
  try {
    for (let step = lastStep + 1; step <= total; step++) {
      const lr = learningRate({ kind: o.schedule, peak: o.lr, warmup: o.warmup, total }, step - 1);
      optimizer.zeroGrads();
      // Each micro-batch is padded to its own longest row; the loss is a mean over every target of the step.
      const batches = Array.from({ length: o.gradAccum }, () => {
        const picked = nextRows(o.batchSize);
        return batchTargets(picked, Math.max(2, ...picked.map((r) => r.ids.length)));
      });
      const tokens = batches.reduce((s, b) => s + b.targets.filter((t) => t !== IGNORE_INDEX).length, 0);
      const states = batches.map((b, i) => {
        const r = microStep(model, trainable, b, {
          lossScale: tokens ? 1 / tokens : 0,
          dropout: o.dropout,
          dropoutSeed: (Math.imul(o.seed + 1, 0x9e3779b1) + step * o.gradAccum + i) >>> 0,
          checkpointing: o.checkpointing,
        });
        return readBuffer(gpu, r.state, 0, b.B * b.T * 16).then((buf) => {
          gpu.pool.release(r.state);
          return lossesFromState(new Float32Array(buf), b.targets);
        });
      });
      optimizer.step(lr);
      const norm = readBuffer(gpu, optimizer.norm, 0, 8);
      // If the run ends early (an error, a lost device), these readbacks may never be awaited;
      // their rejections are then expected, not unhandled.
      for (const p of [...states, norm]) p.catch(() => undefined);
      // The previous step's numbers arrive while this step runs.
      if (pending) await settle(pending);
      pending = { step, lr, tokens, states, norm };
      lastStep = step;
      if (o.evalEvery > 0 && step % o.evalEvery === 0) {
        await settle(pending);
        pending = null;
        await validate(step);
        validatedAt = step;
        if (o.patience > 0 && sinceBest >= o.patience) {
          stoppedEarly = true;
          break;
        }
      }
      stopped = step < total && !!cb.shouldStop && (await cb.shouldStop());
      if (stopped || (every > 0 && step % every === 0)) await checkpoint();
      if (stopped) break;
    }
    if (pending) await settle(pending);
    if (!stopped && validatedAt !== lastStep) await validate(lastStep);
  } finally {
    optimizer.release();
    gpu.pool.setBudget(budgetBefore);
  }
  const b = best as ValPoint | null;
  return {
    steps: lastStep,
    losses,
    finalLoss: losses[losses.length - 1] ?? NaN,
    valHistory,
    bestValLoss: b?.valLoss ?? null,
    bestStep: b?.step ?? null,
    stoppedEarly,
    stopped,
    peakBytes: gpu.pool.stats().peakBytes,
    elapsedMs: performance.now() - start,
  };
}
