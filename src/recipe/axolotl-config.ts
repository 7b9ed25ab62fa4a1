// A tabtune LoRA run as an axolotl config (axolotl.yaml): the same base, adapter, data, schedule
// and optimizer, in axolotl's own keys. Key names and meanings are axolotl's config reference
// (docs.axolotl.ai/docs/config-reference.html, generated from src/axolotl/utils/schemas/*.py);
// test/recipe/axolotl-keys.ts lists the ones used here and where each was checked.

import { targetSelection } from '../formats/peft-write.ts';
import type { LoraConfig } from '../lora/config.ts';
import type { TrainOptions } from '../train/trainer.ts';
import type { YamlMap } from '../util/yaml.ts';

export interface RecipeFiles {
  /** The training rows (axolotl's pre-tokenized JSONL), relative to the folder axolotl runs in. */
  data: string;
  /** Validation rows, or null when the run has none. */
  val: string | null;
  /** The PEFT adapter to go on from, or null to start a fresh one. */
  adapter: string | null;
  /** Where axolotl writes the trained adapter. */
  output: string;
}

export interface RecipeRun {
  /** What axolotl loads: a hub repo id or a path. */
  baseModel: string;
  /** A hub revision (branch, tag, commit) when not the default one. */
  revision?: string;
  /** config.json's torch_dtype: axolotl's bf16/fp16 follow it. */
  torchDtype: string | null;
  /** peftTextRoot of the model: where peft finds the text model's modules. */
  textRoot: string;
  lora: LoraConfig;
  train: Pick<TrainOptions, 'lr' | 'steps' | 'epochs' | 'batchSize' | 'gradAccum' | 'seqLen' | 'schedule' | 'warmup' | 'weightDecay' | 'clip' | 'seed' | 'beta1' | 'beta2' | 'eps' | 'evalEvery' | 'patience'>;
  checkpointing: 'auto' | 'on' | 'off';
  /** tabtune --packing: axolotl packs the (unpacked) rows itself. */
  packing: boolean;
  files: RecipeFiles;
}

/**
 * transformers' "constant" ignores warmup steps; tabtune's constant schedule warms up first, which is
 * transformers' "constant_with_warmup". Linear and cosine warm up in both, and decay to 0 in both.
 */
function scheduler(kind: RecipeRun['train']['schedule'], warmup: number): string {
  return kind === 'constant' && warmup > 0 ? 'constant_with_warmup' : kind;
}

/** Mixed precision as the base is stored: a bf16 checkpoint trains in bf16, an fp16 one in fp16. */
function precision(torchDtype: string | null): YamlMap {
  if (torchDtype === 'bfloat16') return { bf16: true };
  // bf16's default is "auto", which wins over fp16 on a GPU that has bf16: it is turned off.
  if (torchDtype === 'float16') return { bf16: false, fp16: true };
  return { bf16: 'auto' };
}

/** The config, and a comment for the keys whose value needs a reason. */
export function axolotlConfig(run: RecipeRun): { config: YamlMap; comments: Record<string, string> } {
  const { lora: lc, train: o, files } = run;
  const selection = targetSelection(lc, run.textRoot);
  const dataset = (path: string): YamlMap => ({ path, ds_type: 'json', type: null, split: 'train' });
  const config: YamlMap = {
    base_model: run.baseModel,
    revision_of_model: run.revision,
    ...precision(run.torchDtype),

    adapter: 'lora',
    lora_model_dir: files.adapter ?? undefined,
    lora_r: lc.rank,
    lora_alpha: lc.alpha,
    lora_dropout: lc.dropout,
    peft_use_rslora: lc.rslora,
    peft_init_lora_weights: lc.init === 'gaussian' ? 'gaussian' : undefined,
    lora_target_modules: selection.target_modules,
    peft_layers_to_transform: selection.layers_to_transform ?? undefined,

    datasets: [dataset(files.data)],
    test_datasets: files.val ? [dataset(files.val)] : undefined,
    val_set_size: 0,
    train_on_inputs: false,
    sequence_len: o.seqLen,
    sample_packing: run.packing,
    attn_implementation: run.packing ? 'flash_attention_2' : undefined,

    micro_batch_size: o.batchSize,
    gradient_accumulation_steps: o.gradAccum,
    ...(o.steps !== undefined ? { max_steps: o.steps } : { num_epochs: o.epochs ?? 1 }),
    learning_rate: o.lr,
    lr_scheduler: scheduler(o.schedule, o.warmup),
    warmup_steps: o.warmup,
    optimizer: 'adamw_torch',
    adam_beta1: o.beta1,
    adam_beta2: o.beta2,
    adam_epsilon: o.eps,
    weight_decay: o.weightDecay,
    max_grad_norm: o.clip,
    seed: o.seed,
    gradient_checkpointing: run.checkpointing === 'auto' ? undefined : run.checkpointing === 'on',
    eval_steps: o.evalEvery > 0 ? o.evalEvery : undefined,
    // axolotl stops early only with checkpoints saved as often as it evaluates.
    save_steps: o.patience > 0 ? o.evalEvery : undefined,
    early_stopping_patience: o.patience > 0 ? o.patience : undefined,

    output_dir: files.output,
  };
  const notes: Record<string, string | undefined> = {
    base_model: 'what tabtune trained on; on a cluster that sees another path, put that path (or the hub repo id) here',
    adapter: files.adapter
      ? `going on from the adapter in ${files.adapter}: its adapter_config.json decides rank, alpha and targets`
      : 'LoRA with peft, as tabtune trains it',
    datasets: "tabtune's tokenized rows, used as they are: an empty type is axolotl's pre-tokenized format",
    val_set_size: files.val ? `validation rows are tabtune's own, in ${files.val} (test_datasets), not a new split` : 'no validation data in this run',
    sample_packing: run.packing
      ? 'axolotl packs the rows itself, keeping attention inside each example (flash attention), as tabtune --packing does'
      : undefined,
    micro_batch_size: 'per GPU: on N GPUs, divide gradient_accumulation_steps by N to keep the batch tabtune used',
    lr_scheduler: 'linear warmup from 0, then as tabtune: constant, linear to 0 or cosine to 0',
    warmup_steps: `written even when 0: axolotl's default is 3% of the steps${o.warmup === 1 ? ' (and axolotl makes a warmup of 1 step 2)' : ''}`,
    optimizer: "torch's AdamW with decoupled weight decay and tabtune's betas and epsilon",
    max_grad_norm: o.clip === 0 ? '0: no clipping (tabtune --clip 0)' : 'clipping by global norm, as tabtune',
    output_dir: 'the trained adapter (adapter_config.json + adapter_model.safetensors) ends up here',
  };
  const comments = Object.fromEntries(Object.entries(notes).filter((e): e is [string, string] => e[1] !== undefined));
  return { config, comments };
}
