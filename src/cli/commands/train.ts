// tabtune train: LoRA (or, with --full, full fine-tuning) on pre-tokenized JSONL; writes a PEFT
// adapter folder (or, with --full, a Hugging Face model folder).

import { join } from 'node:path';
import { splitValidation } from '../../data/prepare.ts';
import type { ModelFiles } from '../../formats/byte-source.ts';
import { peftAdapterFiles } from '../../formats/peft-write.ts';
import { peftTextRoot } from '../../formats/peft-targets.ts';
import { DeviceLimitError } from '../../gpu/errors.ts';
import type { LoraWeights } from '../../lora/adapter.ts';
import { initLora, type LoraConfig, validateLoraConfig } from '../../lora/config.ts';
import { resolveFiles } from '../model-source.ts';
import type { LoadedModel } from '../../model/model.ts';
import { planTrainingMemory } from '../../train/memory-plan.ts';
import { DEFAULT_TRAIN, train, TrainingDivergedError } from '../../train/trainer.ts';
import { fullTrainable, loraTrainable, readLoraWeights, type Trainable } from '../../train/trainable.ts';
import { readFullWeights } from '../../train/full-export.ts';
import { formatBytes } from '../../util/format.ts';
import { optionalString, parse, required, UsageError } from '../args.ts';
import { MODEL_FLAGS_HELP, withModel } from '../session.ts';
import { DATA_FLAGS_HELP, prepareFile } from '../dataset.ts';
import { choice, readAdapterFor, runFlagsOf, TRAIN_FLAGS } from '../train-flags.ts';
import { checkInputFile, checkOutDir, writeFolderAtomic } from '../output.ts';
import { openCheckpoint } from '../../formats/checkpoint.ts';
import { isQuantType } from '../../quant/ggml-types.ts';

export const TRAIN_HELP = `tabtune train --model DIR --data FILE --out DIR [options]
  Trains a LoRA adapter (PEFT format) on a dataset in any format \`tabtune data inspect\` reads.
  --val-data FILE          validation data; its loss is reported every --eval-every steps and at the end
  --val-split F            hold out this fraction of the data for validation instead (seeded)
  --rank R (8)  --alpha A (16)  --dropout P (0)  --rslora  --init default|gaussian
  --targets LIST           q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or all-linear (q_proj,v_proj)
  --layers LIST            only these layer indices, e.g. 0,1 or 0-3 (default all)
  --lr LR (2e-4)  --schedule constant|linear|cosine (cosine)  --warmup STEPS (0)
  --steps N | --epochs E (1)  --batch-size B (4)  --grad-accum K (1)  --seq-len L (512)
  --weight-decay W (0)  --clip NORM (1.0, 0 = off)  --seed S (0)
  --eval-every N (0 = only at the end)  --patience N (0 = no early stopping)
  --checkpointing auto|on|off   recompute each layer in backward instead of keeping its activations (auto: only when
                               keeping them would not fit --gpu-memory; on when no budget is known)
  --adapter DIR            go on training an existing PEFT adapter (folder or .zip): its settings replace --rank etc.
  --save-dtype D           f32 (default) | f16 | bf16: the dtype of the saved adapter tensors
  --full                   full fine-tuning instead (every weight trainable, fp32): for comparing costs on small models
  --json                   one JSON object per step on stdout, then one with the validation loss
${DATA_FLAGS_HELP}
${MODEL_FLAGS_HELP}`;

export async function trainCommand(argv: string[]): Promise<number> {
  const v = parse(argv, TRAIN_FLAGS);
  if (v.help) {
    console.log(TRAIN_HELP);
    return 0;
  }
  // --data, then --out, are named first when missing.
  required(v, 'data');
  const out = required(v, 'out');
  const { full, adapterSpec, o, checkpointing, dataPath, valPath, valSplit, data: settings, ...flags } = runFlagsOf(v);
  let lc = flags.lc;
  if (full) await refuseQuantizedFull(v);
  await checkOutDir(out, [{ flag: '--model', path: optionalString(v, 'model') }]);
  const saveDtype = choice(v, 'save-dtype', ['f32', 'f16', 'bf16'] as const, 'f32').toUpperCase() as 'F32' | 'F16' | 'BF16';
  await checkInputFile(dataPath, '--data');
  await checkInputFile(valPath, '--val-data');
  // An adapter to go on from is checked against the model's config.json before anything is loaded.
  const adapter = adapterSpec ? await readAdapterFor(v, adapterSpec) : null;
  if (adapter) {
    lc = adapter.lc;
    o.dropout = lc.dropout;
  }
  // Progress for people goes to stderr; with --json, stdout carries only the JSON objects.
  const log = (line: object | string) => (typeof line === 'string' ? console.error(line) : v.json && console.log(JSON.stringify(line)));

  return withModel(
    v,
    async (model, files) => {
      const prepared = await prepareFile(dataPath, model, files, settings, o.seqLen);
      let data = prepared.rows;
      let val = valPath ? (await prepareFile(valPath, model, files, settings, o.seqLen)).rows : null;
      if (valSplit > 0) ({ train: data, val } = splitValidation(data, valSplit, o.seed));
      log(`${dataPath}: ${prepared.format} data, ${data.length} training rows${val ? `, ${val.length} validation rows` : ''}, ${prepared.stats.trainedTokens} trained tokens`);
      // Going on from an existing adapter: its settings and weights replace fresh ones.
      const shapes = adapter ? adapter.weights : lc ? initLora(model.cfg, lc, o.seed) : null;
      if (adapter && lc) log(`continuing from ${adapterSpec} (r=${lc.rank}, alpha ${lc.alpha}, ${adapter.weights.modules.size} modules)`);
      const trainable = shapes ? loraTrainable(model.gpu, shapes) : fullTrainable(model.gpu, model.weights);
      const count = trainable.count;
      log(`training ${count.toLocaleString('en')} parameters (${lc ? `LoRA r=${lc.rank} on ${lc.targets.join(',')}` : 'full fine-tuning'}) on ${data.length} rows`);
      const save = (dir: string) => saveResult(model, trainable, lc, shapes, files, dir, saveDtype);
      try {
        const result = await train(model, trainable, data, val, { ...o, checkpointing: o.checkpointing }, {
          onStep: (r) =>
            v.json
              ? log({ step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_s: r.tokensPerSecond, peak_bytes: r.peakBytes })
              : log(`step ${r.step}/${r.totalSteps}  loss ${r.loss.toFixed(4)}  lr ${r.lr.toExponential(2)}  grad norm ${r.gradNorm.toFixed(3)}  ${r.tokensPerSecond.toFixed(0)} tok/s  peak ${formatBytes(r.peakBytes)}`),
          onEval: (r) => {
            if (!v.json) log(`step ${r.step}: validation loss ${r.valLoss.toFixed(4)}${r.best ? ' (best)' : ''}`);
          },
          onBest: () => save(join(out, 'checkpoint-best')),
        });
        await save(out);
        const summary = {
          trainable_params: count,
          steps: result.steps,
          final_loss: result.finalLoss,
          ...(val ? { val_loss: result.bestValLoss, best_step: result.bestStep, stopped_early: result.stoppedEarly } : {}),
          peak_bytes: result.peakBytes,
          step_ms: result.elapsedMs / Math.max(1, result.steps),
        };
        log(summary);
        if (!v.json) {
          if (val) console.log(`best validation loss ${result.bestValLoss?.toFixed(4)} at step ${result.bestStep}${result.stoppedEarly ? ' (stopped early)' : ''}`);
          console.log(`wrote ${lc ? 'a PEFT adapter' : 'a model folder'} to ${out}: ${count.toLocaleString('en')} trainable parameters, final loss ${result.finalLoss.toFixed(4)}, ${summary.step_ms.toFixed(0)} ms/step, peak GPU memory ${formatBytes(result.peakBytes)}`);
        }
        return 0;
      } catch (e) {
        if (e instanceof TrainingDivergedError) await save(out);
        throw e;
      }
    },
    {
      applyAdapter: false,
      precision: full ? 'f32' : undefined,
      beforeAllocate: (cfg, weightBytes, budget) => {
        const maxPositions = Math.min(cfg.maxPositionEmbeddings, 8192);
        if (o.seqLen > maxPositions) throw new UsageError(`--seq-len ${o.seqLen} is above this model's maximum of ${maxPositions} positions`);
        o.seqLen ||= Math.min(DEFAULT_TRAIN.seqLen, maxPositions);
        if (lc && !adapter) validateLoraConfig(cfg, lc);
        // Planned for full-length sequences: the data is tokenized only once the tokenizer is loaded.
        const plan = planTrainingMemory(cfg, { weightBytes, lora: lc, B: o.batchSize, T: o.seqLen, checkpointing, budget });
        o.checkpointing = plan.checkpointing;
        o.memoryBudget = plan.total;
        const parts = `weights ${formatBytes(plan.weights)}, trainable state ${formatBytes(plan.trainable)}, activations ${formatBytes(plan.activations)}`;
        log(`memory plan: ${formatBytes(plan.total)} (${parts}; checkpointing ${plan.checkpointing ? 'on' : 'off'})`);
        if (budget !== undefined && plan.total > budget) throw new DeviceLimitError(plan.total, budget, `Training with these settings (${parts})`);
      },
    },
  );
}

/**
 * Full fine-tuning updates the weights themselves, which a quantized base cannot hold: refused with
 * the reason, before anything is loaded.
 */
async function refuseQuantizedFull(v: Record<string, unknown>): Promise<void> {
  const asked = optionalString(v, 'base-weights') ?? optionalString(v, 'precision');
  if (asked && asked.toLowerCase().startsWith('q')) {
    throw new UsageError(`--full trains every weight in f32 and cannot keep the base quantized (--base-weights ${asked}); train a LoRA adapter on the quantized base instead (QLoRA), or drop --base-weights`);
  }
  const files = resolveFiles(required(v, 'model'), '--model', { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision') });
  if (!files.gguf) return;
  const quantized = [...(await openCheckpoint(files)).tensors.values()].find((t) => isQuantType(t.dtype));
  if (quantized) {
    throw new UsageError(`--full trains every weight, but ${files.name} holds quantized weights (${quantized.name} is ${quantized.dtype}), which cannot be trained; train a LoRA adapter on it instead, or fully fine-tune the original 16-bit checkpoint`);
  }
}

async function saveResult(model: LoadedModel, t: Trainable, lc: LoraConfig | null, shapes: LoraWeights | null, files: ModelFiles, dir: string, dtype: 'F32' | 'F16' | 'BF16'): Promise<void> {
  if (lc && shapes) {
    await writeFolderAtomic(dir, peftAdapterFiles(lc, await readLoraWeights(model.gpu, t, shapes), model.name, dtype, peftTextRoot(model.cfg)));
  } else {
    await writeFolderAtomic(dir, await readFullWeights(model, t, files));
  }
}
