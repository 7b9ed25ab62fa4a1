// A training run's settings as `tabtune train` takes them on the command line: the flags, their
// ranges, and the checks between them. Shared by `train` (which runs them) and `export-recipe`
// (which writes them for another trainer), so the two read one command line the same way.

import { readPeftAdapter } from '../formats/peft.ts';
import { DEFAULT_LORA, type LoraConfig, loraConfigFromAdapter, parseTargets } from '../lora/config.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import { readModelConfig } from '../model/config.ts';
import { DEFAULT_TRAIN, type TrainOptions } from '../train/trainer.ts';
import { num, optionalString, required, UsageError } from './args.ts';
import { DATA_FLAGS, dataSettings, type DataSettings } from './dataset.ts';
import { resolveFiles } from './model-source.ts';
import { MODEL_FLAGS } from './session.ts';

export const TRAIN_FLAGS = {
  ...MODEL_FLAGS,
  ...DATA_FLAGS,
  data: { type: 'string' }, 'val-data': { type: 'string' }, 'val-split': { type: 'string' }, out: { type: 'string' },
  rank: { type: 'string' }, alpha: { type: 'string' }, dropout: { type: 'string' }, rslora: { type: 'boolean' },
  init: { type: 'string' }, targets: { type: 'string' }, layers: { type: 'string' },
  lr: { type: 'string' }, schedule: { type: 'string' }, warmup: { type: 'string' },
  steps: { type: 'string' }, epochs: { type: 'string' }, 'batch-size': { type: 'string' }, 'grad-accum': { type: 'string' },
  'seq-len': { type: 'string' }, 'weight-decay': { type: 'string' }, clip: { type: 'string' }, seed: { type: 'string' },
  'eval-every': { type: 'string' }, patience: { type: 'string' }, checkpointing: { type: 'string' },
  full: { type: 'boolean' }, json: { type: 'boolean' }, 'save-dtype': { type: 'string' },
} as const;

export function choice<T extends string>(v: Record<string, unknown>, name: string, options: readonly T[], fallback: T): T {
  const x = optionalString(v, name) ?? fallback;
  if (!options.includes(x as T)) throw new UsageError(`--${name} must be one of ${options.join(', ')}, got "${x}"`);
  return x as T;
}

/** "0,1,2" or "0-3,8" -> sorted layer indices; whether they exist is checked against the model. */
function layersOf(spec: string | undefined): number[] | null {
  if (spec === undefined) return null;
  const out = new Set<number>();
  for (const part of spec.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) {
      throw new UsageError(`--layers must be layer indices separated by commas, e.g. 0,1,2 or 0-3, got "${spec}"`);
    }
    for (let l = Number(m[1]); l <= Number(m[2] ?? m[1]); l++) out.add(l);
  }
  return [...out].sort((a, b) => a - b);
}

/** Flags that --adapter replaces with the adapter's own settings. */
const ADAPTER_SETTINGS = ['rank', 'alpha', 'dropout', 'rslora', 'init', 'targets', 'layers'];

export function loraConfigOf(v: Record<string, unknown>): LoraConfig {
  const layers = layersOf(optionalString(v, 'layers'));
  return {
    rank: num(v, 'rank', DEFAULT_LORA.rank, { int: true, min: 1 }),
    alpha: num(v, 'alpha', DEFAULT_LORA.alpha, { min: Number.MIN_VALUE }),
    dropout: num(v, 'dropout', 0, { min: 0, max: 0.99 }),
    targets: parseTargets(optionalString(v, 'targets') ?? DEFAULT_LORA.targets),
    layers,
    rslora: v.rslora === true,
    init: choice(v, 'init', ['default', 'gaussian'] as const, 'default'),
  };
}

function trainOptionsOf(v: Record<string, unknown>, lc: LoraConfig | null): TrainOptions {
  const steps = v.steps === undefined ? undefined : num(v, 'steps', 1, { int: true, min: 1 });
  if (steps !== undefined && v.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  return {
    ...DEFAULT_TRAIN,
    lr: num(v, 'lr', DEFAULT_TRAIN.lr, { min: 1e-12, max: 1 }),
    steps,
    epochs: num(v, 'epochs', 1, { min: 1e-9, max: 1e6 }),
    batchSize: num(v, 'batch-size', DEFAULT_TRAIN.batchSize, { int: true, min: 1, max: 4096 }),
    gradAccum: num(v, 'grad-accum', 1, { int: true, min: 1, max: 4096 }),
    seqLen: num(v, 'seq-len', 0, { int: true, min: 2 }), // 0: decided once the model's maximum is known
    schedule: choice(v, 'schedule', ['constant', 'linear', 'cosine'] as const, 'cosine'),
    warmup: num(v, 'warmup', 0, { int: true, min: 0 }),
    weightDecay: num(v, 'weight-decay', 0, { min: 0, max: 10 }),
    clip: num(v, 'clip', 1, { min: 0 }),
    seed: num(v, 'seed', 0, { int: true, min: 0 }),
    dropout: lc?.dropout ?? 0,
    evalEvery: num(v, 'eval-every', 0, { int: true, min: 0 }),
    patience: num(v, 'patience', 0, { int: true, min: 0 }),
    checkpointing: true,
  };
}

/** Everything a training command line says, checked for range and for flags that do not go together. */
export interface RunFlags {
  full: boolean;
  /** The LoRA settings from the flags; null with --full. --adapter replaces them (readAdapterFor). */
  lc: LoraConfig | null;
  adapterSpec: string | undefined;
  o: TrainOptions;
  checkpointing: 'auto' | 'on' | 'off';
  dataPath: string;
  valPath: string | undefined;
  valSplit: number;
  data: DataSettings;
}

/** Reads and checks the flags alone (no file is opened): a mistake fails before any work. */
export function runFlagsOf(v: Record<string, unknown>): RunFlags {
  const full = v.full === true;
  const dataPath = required(v, 'data');
  const lc = full ? null : loraConfigOf(v);
  const adapterSpec = optionalString(v, 'adapter');
  if (adapterSpec && full) throw new UsageError('--adapter continues training a LoRA adapter; it does not go with --full');
  const replaced = ADAPTER_SETTINGS.filter((f) => v[f] !== undefined);
  const these = `${replaced.map((f) => `--${f}`).join(', ')} ${replaced.length > 1 ? 'do' : 'does'}`;
  if (adapterSpec && replaced.length) {
    throw new UsageError(`${these} not go with --adapter: training goes on with the adapter's own settings (its adapter_config.json)`);
  }
  if (full && replaced.length) throw new UsageError(`${these} not go with --full: full fine-tuning trains every weight, not a LoRA adapter`);
  const o = trainOptionsOf(v, lc);
  const checkpointing = choice(v, 'checkpointing', ['auto', 'on', 'off'] as const, 'auto');
  const valPath = optionalString(v, 'val-data');
  const valSplit = num(v, 'val-split', 0, { min: 0, max: 0.9 });
  if (valPath && valSplit > 0) throw new UsageError('give --val-data or --val-split, not both');
  if (!valPath && valSplit === 0 && (o.evalEvery > 0 || o.patience > 0)) {
    throw new UsageError(`${o.patience > 0 ? '--patience' : '--eval-every'} needs validation data: give --val-data FILE or --val-split F`);
  }
  if (o.patience > 0 && o.evalEvery === 0) throw new UsageError('--patience counts validations: give --eval-every N too');
  return { full, lc, adapterSpec, o, checkpointing, dataPath, valPath, valSplit, data: dataSettings(v) };
}

/** Reads --adapter against --model's config.json (weights not loaded yet): a mismatch fails at once. */
export async function readAdapterFor(v: Record<string, unknown>, spec: string): Promise<{ lc: LoraConfig; weights: LoraWeights }> {
  const source = { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision') };
  const cfg = await readModelConfig(resolveFiles(required(v, 'model'), '--model', source));
  const { config, weights } = await readPeftAdapter(resolveFiles(spec, '--adapter', source), cfg);
  return { lc: loraConfigFromAdapter(cfg, config, weights), weights };
}
