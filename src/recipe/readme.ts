// The README.md of an exported axolotl recipe: what the folder is, how to run it on one GPU or
// several, where the adapter ends up, how to bring it back to tabtune, and where axolotl's run
// differs from tabtune's (so a user reads a different loss curve as expected, not as a bug).

import type { RecipeFiles } from './axolotl-config.ts';

export interface ReadmeInput {
  /** --model as the user gave it (for the tabtune commands that bring the adapter back). */
  model: string;
  /** What axolotl.yaml loads. */
  baseModel: string;
  files: RecipeFiles;
  rows: { train: number; val: number };
  packing: boolean;
  /** The tabtune command line that wrote the folder. */
  command: string;
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
const code = (lines: string[]) => ['```bash', ...lines, '```'];

export function recipeReadme(r: ReadmeInput): string {
  const { files } = r;
  const out = files.output;
  const quote = (s: string) => (/^[\w./:@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return [
    `# axolotl recipe: LoRA on ${r.baseModel}`,
    '',
    'A tabtune training run, written out for [axolotl](https://github.com/axolotl-ai-cloud/axolotl) to run',
    'on NVIDIA GPUs (one or many). Written by:',
    '',
    ...code([r.command]),
    '',
    '| file | what it holds |',
    '| --- | --- |',
    '| `axolotl.yaml` | the run: base model, LoRA settings, data, schedule and optimizer, in axolotl\'s keys |',
    `| \`${files.data}\` | ${count(r.rows.train, 'training row')}, tokenized by tabtune exactly as tabtune trains on them: \`{"input_ids", "attention_mask", "labels"}\`, -100 where nothing is trained (axolotl's pre-tokenized format) |`,
    ...(files.val ? [`| \`${files.val}\` | ${count(r.rows.val, 'validation row')}, tabtune's validation rows (--val-data, or the --val-split fraction held out by tabtune's seeded split) |`] : []),
    ...(files.adapter ? [`| \`${files.adapter}/\` | the PEFT adapter training goes on from (\`lora_model_dir\`) |`] : []),
    '',
    '## Run it',
    '',
    'Run these in this folder: `axolotl.yaml` names its files relative to it. Install axolotl as its',
    '[installation guide](https://docs.axolotl.ai/docs/installation.html) says (a CUDA machine), then train:',
    '',
    ...code(['pip install --no-build-isolation "axolotl[flash-attn,deepspeed]"', 'axolotl train axolotl.yaml']),
    '',
    'On several GPUs of one machine, axolotl runs data parallel through its launchers (each GPU takes',
    '`micro_batch_size` rows per micro-step, so divide `gradient_accumulation_steps` by the number of',
    'GPUs to keep the batch tabtune used):',
    '',
    ...code([
      'axolotl train axolotl.yaml --launcher torchrun -- --nproc_per_node=4',
      '# or, with an accelerate config:',
      'accelerate launch -m axolotl.cli.train axolotl.yaml',
    ]),
    '',
    'For a model that does not fit one GPU, shard it with DeepSpeed ZeRO (or FSDP, see axolotl\'s',
    '[multi-GPU guide](https://docs.axolotl.ai/docs/multi-gpu.html)):',
    '',
    ...code([
      'axolotl fetch deepspeed_configs',
      'axolotl train axolotl.yaml --deepspeed deepspeed_configs/zero2.json',
      '# or put "deepspeed: deepspeed_configs/zero2.json" in axolotl.yaml',
    ]),
    '',
    `If the cluster sees the base model under another path, or should load it from the hub, change \`base_model\` in axolotl.yaml.`,
    '',
    '## The result',
    '',
    `axolotl writes the trained adapter to \`${out}/\` (\`adapter_config.json\` + \`adapter_model.safetensors\`,`,
    `checkpoints in \`${out}/checkpoint-N/\`), a PEFT folder that tabtune reads back as it is:`,
    '',
    ...code([
      `tabtune eval --model ${quote(r.model)} --adapter ${out} --data ${files.val ?? files.data}`,
      `tabtune generate --model ${quote(r.model)} --adapter ${out} --prompt 'Hello'`,
      `tabtune train --model ${quote(r.model)} --adapter ${out} --data FILE --out DIR   # go on training in tabtune`,
    ]),
    '',
    '## How close it is to the tabtune run',
    '',
    '- The rows are the same token ids and loss masks (tabtune\'s chat template, masking and truncation);',
    '  axolotl adds nothing to pre-tokenized rows, and does not tokenize again.',
    ...(r.packing
      ? [
          '- Packing: the rows are written one example each and axolotl packs them (`sample_packing`), with',
          '  attention kept inside each example through flash attention, as tabtune --packing does. Its packs,',
          '  and so its steps per epoch, are its own.',
        ]
      : []),
    '- LoRA (rank, alpha, rsLoRA, dropout, targets, layers), AdamW (betas, epsilon, decoupled weight decay),',
    '  the schedule and its warmup, gradient clipping and accumulation are the same settings. The numbers',
    '  are not bit for bit: torch\'s kernels, mixed precision and random streams (data order, dropout, the',
    '  initial A matrices) are not tabtune\'s, so expect the same curve within noise, not the same digits.',
    '- With `num_epochs`, axolotl counts the steps from its own batches; `max_steps` is exact.',
    '',
  ].join('\n');
}
