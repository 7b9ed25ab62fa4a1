// tabtune export-recipe: a training run, given with train's own flags, written as a folder axolotl
// runs as it is (axolotl.yaml, the tokenized rows, a README): to continue on a GPU cluster what was
// planned or tried in tabtune. Nothing runs on the GPU: only the config and tokenizer are read.

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { splitValidation } from '../../data/prepare.ts';
import type { ModelFiles } from '../../formats/byte-source.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../../formats/peft.ts';
import { peftTextRoot } from '../../formats/peft-targets.ts';
import { validateLoraConfig } from '../../lora/config.ts';
import type { TokenRow } from '../../model/evaluate.ts';
import { axolotlConfig, type RecipeFiles } from '../../recipe/axolotl-config.ts';
import { recipeReadme } from '../../recipe/readme.ts';
import { DEFAULT_TRAIN } from '../../train/trainer.ts';
import { toYaml } from '../../util/yaml.ts';
import { optionalString, parse, required, UsageError } from '../args.ts';
import { DATA_FLAGS_HELP, prepareFile, tokenizerModel } from '../dataset.ts';
import { resolveFiles } from '../model-source.ts';
import { checkInputFile, checkOutDir, checkOutFile, writeFolderAtomic } from '../output.ts';
import { axolotlRow, writeTokenRows } from '../token-rows.ts';
import { readAdapterFor, runFlagsOf, TRAIN_FLAGS } from '../train-flags.ts';

export const EXPORT_RECIPE_HELP = `tabtune export-recipe --model M --data FILE --out DIR [train's options] [--base-model ID]
  Writes a training run as a folder that axolotl (github.com/axolotl-ai-cloud/axolotl) runs as it is,
  on one GPU or many: axolotl.yaml, data.jsonl (the rows tokenized exactly as tabtune trains on them,
  in axolotl's pre-tokenized form), val.jsonl with validation data, and a README.md with the commands.
  Takes the flags of \`tabtune train\` (LoRA, schedule, batch, data and validation ones), so a train
  command line becomes a recipe by changing its first word. Only the model's config and tokenizer are
  read: nothing runs on the GPU, and a hub model's weights are not downloaded.
  --adapter DIR            go on from this PEFT adapter: copied to DIR/adapter (lora_model_dir); its
                           settings replace --rank etc., as for train
  --base-model ID          what axolotl.yaml loads (default: --model's repo id, or its absolute path);
                           required for a GGUF --model (axolotl trains Hugging Face checkpoints)
  --json                   print {"out", "files", "rows", "val_rows", "base_model"} at the end
  --packing                rows are written one example each, and axolotl packs them (sample_packing)
  Not carried over (tabtune's own): --base-weights, --gpu-memory, --save-dtype.
${DATA_FLAGS_HELP}
  --model M  --hub-base URL  --revision REV   as for train (a hub model's revision goes to revision_of_model)`;

const FLAGS = { ...TRAIN_FLAGS, 'base-model': { type: 'string' } } as const;

/** Flags of train that have no counterpart in axolotl's run: accepted, so a train command line works, and named. */
const TABTUNE_ONLY = ['base-weights', 'precision', 'gpu-memory', 'save-dtype'];

const DATA_FILE = 'data.jsonl';
const VAL_FILE = 'val.jsonl';
const ADAPTER_DIR = 'adapter';
const OUTPUT_DIR = './outputs/lora';

/** What axolotl.yaml loads: --base-model, the repo id itself, or a local folder's absolute path. */
function baseModelOf(v: Record<string, unknown>, spec: string, files: ModelFiles): { baseModel: string; revision?: string } {
  const given = optionalString(v, 'base-model');
  if (given) return { baseModel: given };
  if (files.gguf) {
    throw new UsageError(`--model ${spec} is a GGUF model, which axolotl does not train: give --base-model with the Hugging Face checkpoint it was made from (a repo id or a folder)`);
  }
  if (existsSync(spec)) return { baseModel: resolve(spec) };
  return { baseModel: spec, revision: optionalString(v, 'revision') };
}

/** An adapter's two files, byte for byte (from a folder, a zip or the hub). */
async function adapterFiles(spec: string, v: Record<string, unknown>): Promise<Map<string, Uint8Array>> {
  const files = resolveFiles(spec, '--adapter', { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision') });
  const out = new Map<string, Uint8Array>();
  for (const name of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) {
    const src = await files.get(name);
    if (!src) throw new UsageError(`--adapter ${spec} has no ${name}`); // readPeftAdapter has checked; a changed folder
    out.set(name, await src.read(0, src.size));
  }
  return out;
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
const shellWord = (s: string) => (/^[\w./:@=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export async function exportRecipeCommand(argv: string[]): Promise<number> {
  const v = parse(argv, FLAGS);
  if (v.help) {
    console.log(EXPORT_RECIPE_HELP);
    return 0;
  }
  required(v, 'data');
  const out = required(v, 'out');
  const run = runFlagsOf(v);
  if (run.full) throw new UsageError('--full: export-recipe writes a LoRA run; axolotl full fine-tuning is a config without "adapter: lora"');
  const spec = required(v, 'model');
  const ignored = TABTUNE_ONLY.filter((f) => v[f] !== undefined);
  if (ignored.length) console.error(`note: ${ignored.map((f) => `--${f}`).join(', ')} ${ignored.length > 1 ? 'are' : 'is'} tabtune's own and not part of the recipe`);

  // Everything that can be refused is refused before anything is read or written.
  await checkOutDir(out, [{ flag: '--model', path: spec }, { flag: '--adapter', path: run.adapterSpec }]);
  for (const name of [DATA_FILE, VAL_FILE]) await checkOutFile(join(out, name), [run.dataPath, ...(run.valPath ? [run.valPath] : [])]);
  await checkInputFile(run.dataPath, '--data');
  await checkInputFile(run.valPath, '--val-data');
  const files = resolveFiles(spec, '--model', { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision') });
  const base = baseModelOf(v, spec, files);
  const adapter = run.adapterSpec ? await readAdapterFor(v, run.adapterSpec) : null;
  const lc = adapter?.lc ?? run.lc!;
  if (!Number.isInteger(lc.alpha)) {
    const from = adapter ? `the adapter's lora_alpha (${run.adapterSpec})` : '--alpha';
    throw new UsageError(`${from} is ${lc.alpha}, but axolotl's lora_alpha is an integer: use a whole number`);
  }

  const model = await tokenizerModel(files);
  if (!adapter) validateLoraConfig(model.cfg, lc);
  const o = { ...run.o, dropout: lc.dropout };
  if (o.seqLen > model.maxPositions) throw new UsageError(`--seq-len ${o.seqLen} is above this model's maximum of ${model.maxPositions} positions`);
  o.seqLen ||= Math.min(DEFAULT_TRAIN.seqLen, model.maxPositions);
  // Unpacked rows, whatever --packing says: axolotl's pre-tokenized rows have no position_ids, and it packs them itself.
  const settings = { ...run.data, packing: false };
  const prepared = await prepareFile(run.dataPath, model, files, settings, o.seqLen);
  let rows: TokenRow[] = prepared.rows;
  let val: TokenRow[] | null = run.valPath ? (await prepareFile(run.valPath, model, files, settings, o.seqLen)).rows : null;
  if (run.valSplit > 0) ({ train: rows, val } = splitValidation(rows, run.valSplit, o.seed));

  const recipeFiles: RecipeFiles = { data: DATA_FILE, val: val ? VAL_FILE : null, adapter: adapter ? `./${ADAPTER_DIR}` : null, output: OUTPUT_DIR };
  const { config, comments } = axolotlConfig({
    ...base,
    torchDtype: model.cfg.torchDtype,
    textRoot: peftTextRoot(model.cfg),
    lora: lc,
    train: o,
    checkpointing: run.checkpointing,
    packing: run.data.packing,
    files: recipeFiles,
  });
  const command = ['tabtune', 'export-recipe', ...argv].map(shellWord).join(' ');
  const header = [`axolotl config written by tabtune: ${command}`, 'Run it in this folder: axolotl train axolotl.yaml (README.md has the multi-GPU commands).'];
  const readme = recipeReadme({ model: spec, baseModel: base.baseModel, files: recipeFiles, rows: { train: rows.length, val: val?.length ?? 0 }, packing: run.data.packing, command });

  await mkdir(out, { recursive: true });
  await writeTokenRows(join(out, DATA_FILE), rows, axolotlRow);
  if (val) await writeTokenRows(join(out, VAL_FILE), val, axolotlRow);
  if (run.adapterSpec) await writeFolderAtomic(join(out, ADAPTER_DIR), await adapterFiles(run.adapterSpec, v));
  const enc = new TextEncoder();
  await writeFolderAtomic(out, new Map([['axolotl.yaml', enc.encode(toYaml(config, { header, comments }))], ['README.md', enc.encode(readme)]]));

  const written = ['axolotl.yaml', DATA_FILE, ...(val ? [VAL_FILE] : []), ...(adapter ? [`${ADAPTER_DIR}/`] : []), 'README.md'];
  if (v.json) {
    console.log(JSON.stringify({ out, files: written, rows: rows.length, val_rows: val?.length ?? 0, base_model: base.baseModel }));
  } else {
    console.log(`wrote an axolotl recipe to ${out}: ${written.join(', ')} (${count(rows.length, 'training row')}${val ? `, ${count(val.length, 'validation row')}` : ''}); run "axolotl train axolotl.yaml" there`);
  }
  return 0;
}
