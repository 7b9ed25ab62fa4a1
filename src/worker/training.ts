// The training requests: `train` (a new run), `resumeTraining` (a saved run from its checkpoint) and
// `controlTraining` (pause or stop after the current step). A run owns the GPU while it lasts; its
// progress is saved through runs.ts, and the adapter it trains becomes the one in use.

import { peftTextRoot } from '../formats/peft-targets.ts';
import { DeviceLostError } from '../gpu/errors.ts';
import { DEFAULT_LORA, initLora, type LoraConfig, parseTargets } from '../lora/config.ts';
import { evaluate } from '../model/evaluate.ts';
import { generateTokens } from '../model/generate.ts';
import type { ControlTrainingRequest, ResumeTrainingRequest, TrainMetrics, TrainRequest, TrainResult, TrainSettings } from '../protocol/messages.ts';
import type { AppRun } from '../storage/app.ts';
import { StorageError } from '../storage/errors.ts';
import { planTrainingMemory } from '../train/memory-plan.ts';
import type { TrainState } from '../train/train-state.ts';
import { loraTrainable, readLoraWeights } from '../train/trainable.ts';
import { DEFAULT_TRAIN, totalSteps, train as trainLoop, type TrainOptions } from '../train/trainer.ts';
import { dropAdapter, type EngineContext, needModel, type Progress } from './context.ts';
import { prepareData } from './dataset-input.ts';
import { RunMismatchError } from './errors.ts';
import { adapterRecord, baseModelId, CHECKPOINT_EVERY, datasetName, RunRecorder, summaryOf } from './runs.ts';
import { samplePromptIds } from './sample-prompt.ts';

/** Greedy tokens of the sample generation shown at each validation. */
const SAMPLE_TOKENS = 24;

/** The LoRA a run with these settings trains. */
export function loraOf(s: TrainSettings): LoraConfig {
  return { ...DEFAULT_LORA, rank: s.rank, alpha: s.alpha, dropout: s.dropout, rslora: s.rslora, targets: parseTargets(s.targets) };
}

export async function train(ctx: EngineContext, req: TrainRequest, progress: Progress): Promise<TrainResult> {
  const { model } = needModel(ctx);
  const { storage, problem } = await ctx.storage();
  const now = Date.now();
  const name = datasetName(req.dataset);
  const run: AppRun = {
    id: crypto.randomUUID(), name: `${name} r${req.settings.rank}`, createdAt: now, updatedAt: now, baseModel: baseModelId(model), dataset: name,
    settings: { train: req.settings, dataset: req.dataset }, status: 'running', step: 0, totalSteps: 0, metrics: [],
  };
  return runTraining(ctx, new RunRecorder(storage, run, (w) => progress(`warning: ${w}`)), null, problem, progress);
}

export async function resumeTraining(ctx: EngineContext, req: ResumeTrainingRequest, progress: Progress): Promise<TrainResult> {
  const { model } = needModel(ctx);
  const { storage, problem } = await ctx.storage();
  if (!storage) throw new StorageError('resume', `run ${req.runId}`, `Saved runs are not available here: ${problem}`);
  const run = await storage.getRun(req.runId);
  if (!run) throw new StorageError('resume', `run ${req.runId}`, 'This run is no longer saved (it may have been deleted).');
  if (run.baseModel !== baseModelId(model)) {
    throw new RunMismatchError(`The run "${run.name}" was trained on ${run.baseModel}, but ${baseModelId(model)} is loaded: load ${run.baseModel} first, then resume.`);
  }
  const ckpt = await storage.getCheckpoint(run.id);
  if (!ckpt) throw new RunMismatchError(`The run "${run.name}" has no checkpoint to resume from (it ${run.status === 'finished' ? 'has finished' : 'stopped before its first one'}).`);
  progress(`resuming "${run.name}" from step ${ckpt.step}`);
  // Some structured-clone implementations keep a stored File only as a Blob; its name is in the run.
  const d = run.settings.dataset;
  if (d.kind === 'file') run.settings = { ...run.settings, dataset: { kind: 'file', file: new File([d.file], run.dataset) } };
  return runTraining(ctx, new RunRecorder(storage, run, (w) => progress(`warning: ${w}`)), ckpt.state, problem, progress);
}

/** Pause or stop the run in progress after its current step. */
export function controlTraining(ctx: EngineContext, req: ControlTrainingRequest): { accepted: boolean } {
  if (!ctx.training) return { accepted: false };
  ctx.training.request = req.action;
  return { accepted: true };
}

async function runTraining(ctx: EngineContext, recorder: RunRecorder, resume: TrainState | null, storageProblem: string | null, progress: Progress): Promise<TrainResult> {
  const { model, files } = needModel(ctx);
  const run = recorder.run;
  const s = run.settings.train;
  if (ctx.training) throw new RunMismatchError('A run is already training: pause or stop it first.');
  if (ctx.benching) throw new RunMismatchError('The benchmark is running: wait for it to finish, then train.');
  const control: { request: 'pause' | 'stop' | null } = { request: null };
  ctx.training = control;
  // Buffers an earlier run, evaluation or chat left for reuse are not this run's: its memory and
  // its peak start from the model alone.
  model.gpu.pool.trim();
  model.gpu.pool.resetPeak();
  try {
    const { prepared, seqLen, train: rows, val } = await prepareData(model, files, run.settings.dataset, s, progress);
    for (const w of prepared.warnings) progress(`warning: ${w}`);
    const lc = loraOf(s);
    dropAdapter(ctx);
    model.lora = null;
    const opts: TrainOptions = {
      ...DEFAULT_TRAIN, lr: s.lr, schedule: s.schedule, warmup: s.warmup, steps: s.steps > 0 ? s.steps : undefined, epochs: s.epochs,
      batchSize: s.batchSize, gradAccum: s.gradAccum, seqLen, seed: s.seed, dropout: s.dropout, evalEvery: s.evalEvery,
      checkpointEvery: CHECKPOINT_EVERY, ...(resume ? { resume } : {}),
    };
    const planBytes = planTrainingMemory(model.cfg, {
      weightBytes: model.weights.bytes, lora: lc, B: s.batchSize, T: seqLen, checkpointing: opts.checkpointing ? 'on' : 'off',
    }).total;
    opts.memoryBudget = planBytes;
    const total = totalSteps(rows.length, opts);
    const report = (message: string, fraction: number | undefined, m: TrainMetrics) => {
      recorder.point(m);
      progress(message, fraction, m);
    };
    let valLossBefore: number | null;
    if (resume) {
      valLossBefore = run.metrics.find((p) => p.step === 0 && p.valLoss !== undefined)?.valLoss ?? null;
      progress(`resuming at step ${resume.step} of ${total}`, resume.step / total, { runId: run.id, step: resume.step, totalSteps: total });
    } else {
      valLossBefore = val.length ? (await evaluate(model, val, { seqLen, batchSize: s.batchSize })).loss : null;
      run.totalSteps = total;
      await recorder.start();
      report(valLossBefore === null ? 'training' : `validation loss before training ${valLossBefore.toFixed(4)}`, 0, {
        runId: run.id, step: 0, totalSteps: total, ...(valLossBefore === null ? {} : { valLoss: valLossBefore }),
      });
    }
    const shapes = initLora(model.cfg, lc, s.seed);
    const trainable = loraTrainable(model.gpu, shapes);
    ctx.adapter = { lc, shapes, trainable, lora: trainable.lora!, saved: null };
    const sampleIds = samplePromptIds(val[0] ?? rows[0]!);
    const samplePrompt = model.tokenizer.decode(sampleIds, { skipSpecialTokens: true });
    let result;
    try {
      result = await trainLoop(model, trainable, rows, val.length ? val : null, opts, {
        onStep: (r) => report(`step ${r.step}/${r.totalSteps}: loss ${r.loss.toFixed(4)}`, r.step / r.totalSteps, {
          step: r.step, totalSteps: r.totalSteps, loss: r.loss, lr: r.lr, tokensPerSecond: r.tokensPerSecond, etaMs: r.etaMs, peakBytes: r.peakBytes,
          epoch: (r.step * s.batchSize * s.gradAccum) / rows.length, elapsedMs: r.elapsedMs,
        }),
        onEval: async (r) => {
          const tokens = await generateTokens(model, sampleIds, { maxNewTokens: SAMPLE_TOKENS, temperature: 0 });
          const sample = { prompt: samplePrompt, text: model.tokenizer.decode(tokens, { skipSpecialTokens: true }) };
          report(`validation loss ${r.valLoss.toFixed(4)} at step ${r.step}`, undefined, { step: r.step, totalSteps: total, valLoss: r.valLoss, sample });
        },
        shouldStop: () => control.request !== null,
        // Without storage a checkpoint would be read back from the GPU only to be dropped.
        ...(recorder.storage ? { onCheckpoint: (state: TrainState) => recorder.checkpoint(state, control.request === 'pause' ? 'paused' : 'running') } : {}),
      });
    } catch (e) {
      const lost = model.gpu.lostReason;
      const err = lost
        ? new DeviceLostError(lost, recorder.savedStep > 0
          ? `Training stopped; the run is saved at step ${recorder.savedStep}: load the model again and press Resume to continue from there.`
          : 'Training stopped before its first checkpoint: load the model again and start the run anew.')
        : (e as Error);
      await recorder.fail(err.message).catch(() => undefined);
      throw err;
    }
    const status = !result.stopped ? 'finished' : control.request === 'pause' ? 'paused' : 'stopped';
    let adapterId: string | null = null;
    if (status !== 'paused') {
      const weights = await readLoraWeights(model.gpu, trainable, shapes);
      const record = adapterRecord({
        name: run.name, baseModel: run.baseModel, textRoot: peftTextRoot(model.cfg), lc, weights, runId: run.id,
        finalValLoss: result.valHistory.at(-1)?.valLoss ?? null, bestValLoss: result.bestValLoss,
      });
      await recorder.finish(status, result.steps, recorder.storage ? record : null);
      if (recorder.storage) {
        adapterId = record.id;
        ctx.adapter.saved = summaryOf(record);
      }
    }
    return {
      runId: run.id, status, adapterId, storageProblem,
      steps: result.steps, trainableParameters: trainable.count, valLossBefore, valLossAfter: result.bestValLoss,
      losses: result.losses, peakBytes: result.peakBytes, planBytes, elapsedMs: result.elapsedMs, trainRows: rows.length, valRows: val.length,
    };
  } finally {
    ctx.training = null;
    // The run's activations are sized for its batches, not for what the tab does next.
    model.gpu.pool.trim();
  }
}
