// A training run as plain data, so it can be saved (IndexedDB stores it by structured clone) and
// resumed later, in another page or process, onto the same loss curve it would have had.
// Nothing random needs saving: each epoch's row order is a shuffle seeded by (seed, epoch), and
// each micro-batch's dropout mask is seeded by (seed, step), so seed + epoch + cursor + step
// reproduce the rest of the run exactly.
// Dimension key: n = f32 elements of a trainable tensor, LoRA rank padding included.

import type { Gpu } from '../gpu/device.ts';
import { readBuffer } from '../gpu/recorder.ts';
import type { Optimizer } from './optimizer.ts';
import type { Trainable } from './trainable.ts';

export interface TensorState {
  name: string;
  /** param, m, v: [n] f32, AdamW's moments alongside the weights they belong to. */
  param: Float32Array<ArrayBuffer>;
  m: Float32Array<ArrayBuffer>;
  v: Float32Array<ArrayBuffer>;
}

export interface ValPoint {
  step: number;
  valLoss: number;
}

export interface TrainState {
  /** Optimizer steps the loop has finished. */
  step: number;
  /** The run's length; the learning-rate schedule depends on it. */
  totalSteps: number;
  /** AdamW's update count (its bias corrections depend on it). */
  optimizerSteps: number;
  /** The data the run was shuffling: a resume with another seed or row count would not continue it. */
  seed: number;
  dataRows: number;
  tensors: TensorState[];
  /** Training loss of every step so far, step 1 first. */
  losses: number[];
  valHistory: ValPoint[];
  best: ValPoint | null;
  /** Validations since the best one (for early stopping). */
  sinceBest: number;
  trainedTokens: number;
  /** Training time so far, so tokens/s and the ETA carry on across a pause. */
  elapsedMs: number;
  /** Position in the row order: the next row is order(epoch)[cursor]. */
  dataOrder: { epoch: number; cursor: number };
}

/** What the training loop knows; the rest of a TrainState lives on the GPU. */
export type LoopState = Omit<TrainState, 'tensors' | 'optimizerSteps'>;

export class TrainStateMismatchError extends Error {
  constructor(readonly tensor: string, detail: string) {
    super(`the checkpoint does not fit this run: tensor "${tensor}" ${detail}. Resume with the model and LoRA settings the checkpoint was made with`);
    this.name = 'TrainStateMismatchError';
  }
}

/**
 * Copies everything a resume needs off the GPU. Work already submitted (the last optimizer step)
 * is ordered before these reads on the queue, so the weights are those after `loop.step`.
 */
export async function captureTrainState(gpu: Gpu, trainable: Trainable, optimizer: Optimizer, loop: LoopState): Promise<TrainState> {
  const tensors = await Promise.all(trainable.tensors.map(async (t) => {
    const [param, m, v] = await Promise.all([t.param, t.m, t.v].map(async (b) => new Float32Array(await readBuffer(gpu, b, 0, t.n * 4))));
    return { name: t.name, param: param!, m: m!, v: v! };
  }));
  return {
    ...loop,
    optimizerSteps: optimizer.stepCount,
    tensors,
    losses: [...loop.losses],
    valHistory: loop.valHistory.map((p) => ({ ...p })),
    best: loop.best && { ...loop.best },
    dataOrder: { ...loop.dataOrder },
  };
}

/** Writes the weights and moments back; checks every tensor first, so a mismatch changes nothing. */
export function restoreTrainState(gpu: Gpu, trainable: Trainable, state: TrainState): void {
  const saved = new Map(state.tensors.map((t) => [t.name, t]));
  const pairs = trainable.tensors.map((t) => {
    const s = saved.get(t.name);
    if (!s) throw new TrainStateMismatchError(t.name, 'is trained here but missing from the checkpoint');
    for (const [what, a] of [['param', s.param], ['m', s.m], ['v', s.v]] as const) {
      if (a.length !== t.n) throw new TrainStateMismatchError(t.name, `has ${a.length} values (${what}) in the checkpoint but ${t.n} here`);
    }
    return [t, s] as const;
  });
  const here = new Set(trainable.tensors.map((t) => t.name));
  const extra = state.tensors.find((s) => !here.has(s.name));
  if (extra) throw new TrainStateMismatchError(extra.name, 'is in the checkpoint but not trained here');
  for (const [t, s] of pairs) {
    gpu.device.queue.writeBuffer(t.param, 0, s.param);
    gpu.device.queue.writeBuffer(t.m, 0, s.m);
    gpu.device.queue.writeBuffer(t.v, 0, s.v);
  }
}

export class ResumeMismatchError extends Error {
  constructor(detail: string) {
    super(`the checkpoint cannot be resumed by this run: ${detail}. Resume with the data and training settings the checkpoint was made with`);
    this.name = 'ResumeMismatchError';
  }
}

/** The schedule and the row order are functions of these; anything else would silently change the curve. */
export function assertResumable(state: TrainState, run: { totalSteps: number; seed: number; dataRows: number }): void {
  if (state.totalSteps !== run.totalSteps) throw new ResumeMismatchError(`it is from a ${state.totalSteps}-step run, this one has ${run.totalSteps} steps`);
  if (state.seed !== run.seed) throw new ResumeMismatchError(`it was trained with seed ${state.seed}, this run has seed ${run.seed}`);
  if (state.dataRows !== run.dataRows) throw new ResumeMismatchError(`it was trained on ${state.dataRows} rows, this run has ${run.dataRows}`);
  if (!(state.step >= 0 && state.step <= state.totalSteps) || state.dataOrder.cursor > state.dataRows) {
    throw new ResumeMismatchError(`its position (step ${state.step}, row ${state.dataOrder.cursor}) is out of range`);
  }
}
