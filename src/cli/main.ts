// The tabtune CLI entry: picks the command, turns every error into one readable line.

import { FormatError } from '../formats/errors.ts';
import { DeviceLimitError, WebGpuUnavailableError } from '../gpu/errors.ts';
import { DatasetError } from '../data/errors.ts';
import { InputError } from '../model/evaluate.ts';
import { UsageError } from './args.ts';
import { EVAL_HELP, evalCommand } from './commands/eval.ts';
import { GENERATE_HELP, generateCommand } from './commands/generate.ts';
import { DATA_HELP, dataCommand } from './commands/data.ts';
import { EXPORT_HELP, exportCommand } from './commands/export.ts';
import { EXPORT_RECIPE_HELP, exportRecipeCommand } from './commands/export-recipe.ts';
import { MERGE_HELP, mergeCommand } from './commands/merge.ts';
import { GRADS_HELP, gradsCommand } from './commands/grads.ts';
import { MAKE_TEST_MODEL_HELP, makeTestModelCommand } from './commands/make-test-model.ts';
import { TRAIN_HELP, trainCommand } from './commands/train.ts';
import { BENCH_HELP, benchCommand } from './commands/bench.ts';
import { TOKENIZE_HELP, tokenizeCommand } from './commands/tokenize.ts';
import { PLAN_HELP, planCommand } from './commands/plan.ts';
import { TrainingDivergedError } from '../train/trainer.ts';
import { LoraConfigError } from '../lora/config.ts';

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  eval: evalCommand,
  generate: generateCommand,
  train: trainCommand,
  grads: gradsCommand,
  data: dataCommand,
  merge: mergeCommand,
  export: exportCommand,
  'export-recipe': exportRecipeCommand,
  'make-test-model': makeTestModelCommand,
  bench: benchCommand,
  tokenize: tokenizeCommand,
  plan: planCommand,
};

const HELP = `tabtune: LoRA fine-tuning of open LLMs on WebGPU (this CLI runs the same engine through Dawn).

Commands:
${[EVAL_HELP, GENERATE_HELP, TRAIN_HELP, PLAN_HELP, GRADS_HELP, DATA_HELP, MERGE_HELP, EXPORT_HELP, EXPORT_RECIPE_HELP, MAKE_TEST_MODEL_HELP, BENCH_HELP, TOKENIZE_HELP].map((h) => `  ${h.split('\n')[0]}`).join('\n')}

Run "tabtune COMMAND --help" for the options of one command.`;

const KNOWN_ERRORS = [UsageError, FormatError, DatasetError, InputError, DeviceLimitError, WebGpuUnavailableError, TrainingDivergedError, LoraConfigError];

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(HELP);
    return cmd ? 0 : 2;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    console.error(`tabtune: unknown command "${cmd}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (e) {
    const err = e as Error;
    // A file the system would not read or write (EISDIR, EACCES, ENOSPC, ...): its message names the path.
    const systemError = typeof (err as NodeJS.ErrnoException).code === 'string' && typeof (err as NodeJS.ErrnoException).syscall === 'string';
    const known = systemError || KNOWN_ERRORS.some((k) => err instanceof k);
    console.error(`tabtune ${cmd}: ${err.message}`);
    if (err instanceof UsageError) console.error(`Run "tabtune ${cmd} --help" for the options.`);
    if (!known || process.env.TABTUNE_DEBUG) console.error(err.stack);
    return err instanceof UsageError ? 2 : 1;
  }
}
