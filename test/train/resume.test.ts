// A stopped run resumed from its checkpoint lands on the curve of the uninterrupted run, bit for
// bit: weights, AdamW moments and step count, the row order across epochs, dropout masks,
// validation history. A checkpoint that does not fit the adapter is refused by name.

import { describe, expect, it } from 'vitest';
import { DEFAULT_LORA, initLora, parseTargets } from '../../src/lora/config.ts';
import { destroyLora } from '../../src/lora/gpu-lora.ts';
import { captureTrainState, ResumeMismatchError, restoreTrainState, type TrainState, TrainStateMismatchError } from '../../src/train/train-state.ts';
import { DEFAULT_TRAIN, train, type TrainOptions } from '../../src/train/trainer.ts';
import { loraTrainable, readLoraWeights, releaseTrainable, type Trainable } from '../../src/train/trainable.ts';
import { Optimizer } from '../../src/train/optimizer.ts';
import { randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadTestModel } from '../helpers/model.ts';

// Rows of different lengths, so each micro-batch's padding depends on which rows the order picks.
const rows = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => ({ inputIds: Array.from(randomArray(6 + 2 * i, seed + i), (x) => 3 + Math.floor((x + 1) * 190)) }));

const DATA = rows(5, 300);
const VAL = rows(2, 400);
const lc = { ...DEFAULT_LORA, rank: 4, alpha: 8, targets: parseTargets('all-linear') };
// 4 rows a step over 5 rows: 8 steps are 6.4 epochs, and step 3 stops mid-epoch (epoch 2, row 2).
const opts: TrainOptions = {
  ...DEFAULT_TRAIN, lr: 1e-2, steps: 8, batchSize: 2, gradAccum: 2, seqLen: 32, seed: 7, dropout: 0.1, evalEvery: 2, warmup: 2, weightDecay: 0.01,
};

async function setup() {
  const gpu = await testGpu();
  const { model } = await loadTestModel(gpu, { architecture: 'llama', seed: 61, dtype: 'F32' }, 'f32');
  const fresh = (seed: number) => loraTrainable(gpu, initLora(model.cfg, lc, seed));
  const drop = (t: Trainable) => {
    if (model.lora === t.lora) model.lora = null;
    releaseTrainable(gpu, t);
    destroyLora(gpu, t.lora!);
  };
  return { gpu, model, shapes: initLora(model.cfg, lc, 1), fresh, drop };
}

async function stoppedAt(s: Awaited<ReturnType<typeof setup>>, steps: number): Promise<{ state: TrainState; t: Trainable }> {
  const t = s.fresh(1);
  let polls = 0;
  const states: TrainState[] = [];
  const result = await train(s.model, t, DATA, VAL, opts, {
    shouldStop: () => ++polls >= steps,
    onCheckpoint: (state) => void states.push(state),
  });
  expect(result).toMatchObject({ steps, stopped: true });
  expect(states.map((x) => x.step)).toEqual([steps]);
  return { state: states[0]!, t };
}

describe('checkpoint and resume', () => {
  it('stop after step 3, resume on a fresh adapter: steps 4..8 and the weights match the straight run', async () => {
    const s = await setup();
    const straightT = s.fresh(1);
    const periodic: number[] = [];
    const straight = await train(s.model, straightT, DATA, VAL, { ...opts, checkpointEvery: 4 }, { onCheckpoint: (c) => void periodic.push(c.step) });
    const straightW = await readLoraWeights(s.gpu, straightT, s.shapes);
    expect(straight).toMatchObject({ steps: 8, stopped: false });
    expect(periodic).toEqual([4, 8]);
    s.drop(straightT);

    const { state, t: stoppedT } = await stoppedAt(s, 3);
    expect(state).toMatchObject({ step: 3, optimizerSteps: 3, totalSteps: 8, dataOrder: { epoch: 2, cursor: 2 }, sinceBest: 0 });
    expect(state.losses).toEqual(straight.losses.slice(0, 3));
    // Validation at step 2 only: a stop skips the final one.
    expect(state.valHistory).toEqual(straight.valHistory.slice(0, 1));
    s.drop(stoppedT);

    const t = s.fresh(99);
    const other = await readLoraWeights(s.gpu, t, s.shapes);
    restoreTrainState(s.gpu, t, state);
    expect(await readLoraWeights(s.gpu, t, s.shapes)).not.toEqual(other);
    const steps: number[] = [];
    const resumed = await train(s.model, t, DATA, VAL, { ...opts, resume: state }, { onStep: (r) => steps.push(r.step) });
    expect(steps).toEqual([4, 5, 6, 7, 8]);
    expect(resumed).toMatchObject({ steps: 8, stopped: false, bestStep: straight.bestStep, bestValLoss: straight.bestValLoss });
    expect(resumed.losses).toEqual(straight.losses);
    expect(resumed.valHistory).toEqual(straight.valHistory);
    expect(await readLoraWeights(s.gpu, t, s.shapes)).toEqual(straightW);
    s.drop(t);
  });

  it('refuses a checkpoint whose tensors do not fit, naming the tensor, and writes nothing', async () => {
    const s = await setup();
    const { state, t } = await stoppedAt(s, 1);
    const [first, second] = state.tensors;
    const renamed = { ...state, tensors: [{ ...first!, name: 'model.layers.0.self_attn.q_proj.lora_X' }, ...state.tensors.slice(1)] };
    expect(() => restoreTrainState(s.gpu, t, renamed)).toThrow(TrainStateMismatchError);
    expect(() => restoreTrainState(s.gpu, t, renamed)).toThrow(`"${first!.name}" is trained here but missing`);
    const extra = { ...state, tensors: [...state.tensors, { ...first!, name: 'extra.lora_A' }] };
    expect(() => restoreTrainState(s.gpu, t, extra)).toThrow('"extra.lora_A" is in the checkpoint but not trained here');
    const short = { ...state, tensors: [first!, { ...second!, v: second!.v.slice(1) }, ...state.tensors.slice(2)] };
    expect(() => restoreTrainState(s.gpu, t, short)).toThrow(`"${second!.name}" has ${second!.v.length - 1} values (v) in the checkpoint but ${second!.v.length} here`);

    const before = await readLoraWeights(s.gpu, t, s.shapes);
    const last = state.tensors.length - 1;
    const zeroed = { ...state, tensors: state.tensors.map((x, i) => (i === last ? { ...x, m: x.m.slice(1) } : { ...x, param: new Float32Array(x.param.length) })) };
    expect(() => restoreTrainState(s.gpu, t, zeroed)).toThrow(TrainStateMismatchError);
    expect(await readLoraWeights(s.gpu, t, s.shapes)).toEqual(before);

    await expect(train(s.model, t, DATA, VAL, { ...opts, steps: 9, resume: state })).rejects.toThrow(ResumeMismatchError);
    await expect(train(s.model, t, DATA, VAL, { ...opts, seed: 8, resume: state })).rejects.toThrow('seed 7');
    s.drop(t);
  });

  it('survives structuredClone and restores the same weights, moments and step count', async () => {
    const s = await setup();
    const { state, t } = await stoppedAt(s, 2);
    const copy = structuredClone(state);
    expect(copy).toEqual(state);
    expect(copy.tensors[0]!.param).toBeInstanceOf(Float32Array);
    const u = s.fresh(5);
    restoreTrainState(s.gpu, u, copy);
    const optimizer = new Optimizer(s.gpu, u, opts, copy.optimizerSteps);
    const again = await captureTrainState(s.gpu, u, optimizer, copy);
    optimizer.release();
    expect(again).toEqual(state);
    s.drop(t);
    s.drop(u);
  });
});
