// The axolotl config a run becomes: only keys axolotl defines (axolotl-keys.ts), each holding the
// run's setting, in the form axolotl's schema and transformers read it.

import { describe, expect, it } from 'vitest';
import { axolotlConfig, type RecipeRun } from '../../src/recipe/axolotl-config.ts';
import { DEFAULT_LORA } from '../../src/lora/config.ts';
import { DEFAULT_TRAIN } from '../../src/train/trainer.ts';
import type { YamlMap } from '../../src/util/yaml.ts';
import { AXOLOTL_DATASET_KEYS, AXOLOTL_KEYS } from './axolotl-keys.ts';

const RUN: RecipeRun = {
  baseModel: 'acme/base',
  torchDtype: 'bfloat16',
  textRoot: 'model',
  lora: { ...DEFAULT_LORA },
  train: { ...DEFAULT_TRAIN, seqLen: 512 },
  checkpointing: 'auto',
  packing: false,
  files: { data: 'data.jsonl', val: null, adapter: null, output: './outputs/lora' },
};

/** Keys written (undefined ones are left out of the YAML), and those of each dataset entry. */
function writtenKeys(config: YamlMap): { top: string[]; dataset: string[] } {
  const top = Object.keys(config).filter((k) => config[k] !== undefined);
  const entries = [...((config.datasets as YamlMap[] | undefined) ?? []), ...((config.test_datasets as YamlMap[] | undefined) ?? [])];
  return { top, dataset: entries.flatMap((e) => Object.keys(e).filter((k) => e[k] !== undefined)) };
}

const VARIANTS: [string, RecipeRun][] = [
  ['defaults', RUN],
  ['everything on', {
    ...RUN,
    revision: 'v2',
    torchDtype: 'float16',
    lora: { ...DEFAULT_LORA, layers: [0, 2], rslora: true, init: 'gaussian' },
    train: { ...RUN.train, steps: 100, evalEvery: 10, patience: 3, warmup: 5, schedule: 'constant' },
    checkpointing: 'on',
    packing: true,
    files: { data: 'data.jsonl', val: 'val.jsonl', adapter: './adapter', output: './outputs/lora' },
  }],
  ['checkpointing off, float32 base', { ...RUN, torchDtype: 'float32', checkpointing: 'off' }],
];

describe('axolotlConfig', () => {
  it.each(VARIANTS)('writes only keys axolotl defines (%s)', (_, run) => {
    const { config, comments } = axolotlConfig(run);
    const { top, dataset } = writtenKeys(config);
    expect(top.filter((k) => !(k in AXOLOTL_KEYS))).toEqual([]);
    expect(dataset.filter((k) => !(k in AXOLOTL_DATASET_KEYS))).toEqual([]);
    expect(Object.keys(comments).filter((k) => !top.includes(k))).toEqual([]);
  });

  it('carries every setting of the run', () => {
    const run = VARIANTS[1]![1];
    const { config: c } = axolotlConfig(run);
    expect(c).toMatchObject({
      base_model: 'acme/base', revision_of_model: 'v2', bf16: false, fp16: true,
      adapter: 'lora', lora_model_dir: './adapter', lora_r: 8, lora_alpha: 16, lora_dropout: 0, peft_use_rslora: true,
      peft_init_lora_weights: 'gaussian', lora_target_modules: ['q_proj', 'v_proj'], peft_layers_to_transform: [0, 2],
      datasets: [{ path: 'data.jsonl', ds_type: 'json', type: null, split: 'train' }],
      test_datasets: [{ path: 'val.jsonl', ds_type: 'json', type: null, split: 'train' }],
      val_set_size: 0, train_on_inputs: false, sequence_len: 512, sample_packing: true, attn_implementation: 'flash_attention_2',
      micro_batch_size: 4, gradient_accumulation_steps: 1, max_steps: 100, learning_rate: 2e-4,
      lr_scheduler: 'constant_with_warmup', warmup_steps: 5, optimizer: 'adamw_torch',
      adam_beta1: 0.9, adam_beta2: 0.999, adam_epsilon: 1e-8, weight_decay: 0, max_grad_norm: 1, seed: 0,
      gradient_checkpointing: true, eval_steps: 10, save_steps: 10, early_stopping_patience: 3, output_dir: './outputs/lora',
    });
    expect(c.num_epochs).toBeUndefined();
  });

  it('leaves out what the run does not have', () => {
    const { config: c } = axolotlConfig(RUN);
    for (const k of ['revision_of_model', 'lora_model_dir', 'peft_layers_to_transform', 'peft_init_lora_weights', 'test_datasets', 'attn_implementation', 'max_steps', 'gradient_checkpointing', 'eval_steps', 'save_steps', 'early_stopping_patience', 'fp16']) {
      expect(c[k], k).toBeUndefined();
    }
    expect(c).toMatchObject({ num_epochs: 1, sample_packing: false, bf16: true, warmup_steps: 0, lr_scheduler: 'cosine' });
  });

  it("names the schedule as transformers does: constant with warmup is 'constant_with_warmup'", () => {
    const lr = (schedule: 'constant' | 'linear' | 'cosine', warmup: number) => axolotlConfig({ ...RUN, train: { ...RUN.train, schedule, warmup } }).config.lr_scheduler;
    expect([lr('constant', 0), lr('constant', 3), lr('linear', 3), lr('cosine', 0)]).toEqual(['constant', 'constant_with_warmup', 'linear', 'cosine']);
  });

  it('takes mixed precision from the base: bf16, fp16 (bf16 off, or its "auto" would win), else auto', () => {
    const p = (torchDtype: string | null) => {
      const { bf16, fp16 } = axolotlConfig({ ...RUN, torchDtype }).config;
      return { bf16, fp16 };
    };
    expect(p('bfloat16')).toEqual({ bf16: true, fp16: undefined });
    expect(p('float16')).toEqual({ bf16: false, fp16: true });
    expect(p('float32')).toEqual({ bf16: 'auto', fp16: undefined });
    expect(p(null)).toEqual({ bf16: 'auto', fp16: undefined });
  });

  it('selects only the text model of a vision-language model (Gemma 3), as the PEFT adapter tabtune writes', () => {
    const { config: c } = axolotlConfig({ ...RUN, textRoot: 'model.language_model', lora: { ...DEFAULT_LORA, layers: [1, 3] } });
    expect(c.lora_target_modules).toBe('model\\.language_model\\.layers\\.(?:1|3)\\.(?:self_attn|mlp)\\.(?:q_proj|v_proj)');
    expect(c.peft_layers_to_transform).toBeUndefined();
  });

  it('writes clip 0 as max_grad_norm 0, which transformers reads as no clipping', () => {
    expect(axolotlConfig({ ...RUN, train: { ...RUN.train, clip: 0 } }).config.max_grad_norm).toBe(0);
  });
});
