// tabtune plan: the GPU memory a training run needs, from what can be read before a download: a
// folder's config.json (weights not needed), a GGUF's header, or a repo id's config.json.

import { existsSync } from 'node:fs';
import { openCheckpoint, type Checkpoint } from '../../formats/checkpoint.ts';
import { FormatError } from '../../formats/errors.ts';
import type { ModelFiles } from '../../formats/byte-source.ts';
import { validateLoraConfig } from '../../lora/config.ts';
import { readModelConfig } from '../../model/config.ts';
import { planModel } from '../../train/model-plan.ts';
import { DEFAULT_TRAIN } from '../../train/trainer.ts';
import { formatBytes } from '../../util/format.ts';
import { bytesArg, num, optionalString, parse, required, UsageError } from '../args.ts';
import { resolveFiles } from '../model-source.ts';
import { baseWeightsArg } from '../session.ts';
import { choice, loraConfigOf } from '../train-flags.ts';

export const PLAN_HELP = `tabtune plan --model M [--base-weights T] [LoRA and batch options] [--gpu-memory SIZE] [--json]
  The GPU memory a training run needs, before anything is downloaded or allocated: from a folder's
  config.json alone (weights not needed), a GGUF model's header, or a repo id's config.json.
  --base-weights T         auto | f16 | bf16 | f32 | q8_0 | q4_0 | q4_k (as for train)
  --rank R (8)  --targets LIST (q_proj,v_proj)  --layers LIST  --dropout P  --full
  --batch-size B (4)  --seq-len L (512)  --checkpointing auto|on|off (auto)
  --gpu-memory SIZE        what the device has, e.g. 8G: says whether the run fits, and if not what to cut
  --json                   {"weights", "trainable", "activations", "total", "fits", ...} in bytes
  --model M  --hub-base URL  --revision REV   as for train`;

const FLAGS = {
  model: { type: 'string' }, 'hub-base': { type: 'string' }, revision: { type: 'string' },
  'base-weights': { type: 'string' }, precision: { type: 'string' }, 'gpu-memory': { type: 'string' },
  rank: { type: 'string' }, alpha: { type: 'string' }, dropout: { type: 'string' }, rslora: { type: 'boolean' },
  init: { type: 'string' }, targets: { type: 'string' }, layers: { type: 'string' }, full: { type: 'boolean' },
  'batch-size': { type: 'string' }, 'seq-len': { type: 'string' }, checkpointing: { type: 'string' },
  json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

/** The checkpoint's headers when the weights are at hand (a local folder or a GGUF), else null. */
async function headersIfLocal(files: ModelFiles, local: boolean): Promise<Checkpoint | null> {
  if (files.gguf) return openCheckpoint(files);
  if (!local) return null; // a repo id: only config.json is fetched
  try {
    return await openCheckpoint(files);
  } catch (e) {
    // A folder with config.json but no weights yet: plan from the config alone.
    if (e instanceof FormatError && /has no model weights/.test(e.message)) return null;
    throw e;
  }
}

export async function planCommand(argv: string[]): Promise<number> {
  const v = parse(argv, FLAGS);
  if (v.help) {
    console.log(PLAN_HELP);
    return 0;
  }
  const spec = required(v, 'model');
  const full = v.full === true;
  const precision = baseWeightsArg(v);
  if (full && precision.startsWith('q')) throw new UsageError(`--full trains every weight in f32; it does not go with --base-weights ${precision}`);
  const lora = full ? null : loraConfigOf(v);
  const B = num(v, 'batch-size', DEFAULT_TRAIN.batchSize, { int: true, min: 1, max: 4096 });
  const T = num(v, 'seq-len', DEFAULT_TRAIN.seqLen, { int: true, min: 2 });
  const checkpointing = choice(v, 'checkpointing', ['auto', 'on', 'off'] as const, 'auto');
  const budget = bytesArg(v, 'gpu-memory') ?? null;
  const files = resolveFiles(spec, '--model', { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision'), quiet: v.json === true });
  const cfg = await readModelConfig(files);
  if (lora) validateLoraConfig(cfg, lora);
  const ckpt = await headersIfLocal(files, existsSync(spec));
  const plan = planModel(cfg, ckpt, { precision: full ? 'f32' : precision, lora, B, T, checkpointing, budget });
  const baseWeights = ckpt ? precision : `${precision}${precision === 'auto' ? ` (${cfg.torchDtype ?? 'bfloat16'} assumed: weights not read)` : ''}`;
  if (v.json) {
    console.log(JSON.stringify({
      weights: plan.weights, trainable: plan.trainable, activations: plan.activations, total: plan.total,
      fits: plan.fits, budget: plan.budget, checkpointing: plan.checkpointing, base_weights: precision,
      weight_dtypes: plan.weightDtypes, rank: lora?.rank ?? null, targets: lora?.targets ?? null, batch_size: B, seq_len: T,
      message: plan.advice,
    }));
  } else {
    console.log(`${files.name}: ${cfg.hfArchitecture}, ${cfg.numLayers} layers, hidden ${cfg.hiddenSize}; frozen weights ${baseWeights} (${Object.entries(plan.weightDtypes).map(([d, n]) => `${n} ${d}`).join(', ')})`);
    console.log(`${lora ? `LoRA r=${lora.rank} on ${lora.targets.join(',')}` : 'full fine-tuning'}, ${B} x ${T} tokens, checkpointing ${plan.checkpointing ? 'on' : 'off'}`);
    console.log(`weights ${formatBytes(plan.weights)} + trainable state ${formatBytes(plan.trainable)} + activations ${formatBytes(plan.activations)} = ${formatBytes(plan.total)}`);
    if (plan.fits !== null) console.log(plan.fits ? `fits in ${formatBytes(plan.budget!)}` : plan.advice);
  }
  return 0;
}
