// tabtune data inspect: what a dataset file becomes for a given model, before any training:
// the format found, statistics, bad rows, and a preview with the masked (untrained) parts marked.
// tabtune data tokenize: the same rows written out as training sees them (pre-tokenized JSONL).

import { access, constants } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatPreview, previewRow, stepsPerEpoch } from '../../data/prepare.ts';
import { num, parse, required, UsageError } from '../args.ts';
import { DATA_FLAGS, DATA_FLAGS_HELP, dataSettings, prepareFile } from '../dataset.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, withModel } from '../session.ts';
import { writeTokenRows } from '../token-rows.ts';

export const DATA_HELP = `tabtune data inspect FILE --model DIR [--seq-len N] [--examples K] [--batch-size B] [--json]
tabtune data tokenize FILE --model DIR --out tokens.jsonl [--seq-len N]
  Reads FILE (JSONL, JSON, CSV, TSV or TXT: text, prompt/completion, chat messages, Alpaca or
  pre-tokenized), tokenizes it with the model's tokenizer and chat template, and
  inspect: prints statistics and the first examples with the masked parts marked ⟦like this⟧
    (dimmed on a terminal). In a chat, each assistant message is trained (its content as the
    template writes it, its reasoning, and the end-of-turn token after it); what the template
    adds around it (role headers, dates, an empty think block, the system prompt) is not.
  tokenize: writes the rows exactly as training sees them, one JSON object per line:
    {"input_ids": [...], "labels": [...]} with -100 where nothing is trained, and
    "position_ids" on packed rows (restarting at 0 at each packed example). train and eval
    read the file back unchanged. For axolotl (which also wants "attention_mask"), use
    tabtune export-recipe: the same rows with a config to run.
  --seq-len N              maximum sequence length (default 512, at most the model's)
  --examples K             inspect: examples to preview (default 3)
  --out FILE               tokenize: the JSONL file to write
${DATA_FLAGS_HELP}
${MODEL_FLAGS_HELP}`;

export async function dataCommand(argv: string[]): Promise<number> {
  const [sub, file, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(DATA_HELP);
    return sub ? 0 : 2;
  }
  if (sub !== 'inspect' && sub !== 'tokenize') {
    throw new UsageError(`unknown subcommand "data ${sub}"; use "tabtune data inspect FILE --model DIR" or "tabtune data tokenize FILE --model DIR --out tokens.jsonl"`);
  }
  if (!file || file.startsWith('--')) throw new UsageError(`give the dataset file: tabtune data ${sub} FILE --model DIR`);
  const v = parse(rest, { ...MODEL_FLAGS, ...DATA_FLAGS, 'seq-len': { type: 'string' }, examples: { type: 'string' }, 'batch-size': { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' } });
  if (v.help) {
    console.log(DATA_HELP);
    return 0;
  }
  required(v, 'model');
  const settings = dataSettings(v);
  if (sub === 'tokenize') {
    const out = required(v, 'out');
    // Before any work: a folder that cannot take the file fails now, not after tokenizing.
    await access(dirname(out), constants.W_OK).catch(() => {
      throw new UsageError(`--out ${out}: the folder ${dirname(out)} does not exist or cannot be written to`);
    });
    await withModel(v, async (model, files) => {
      const seqLen = Math.min(num(v, 'seq-len', 512, { int: true, min: 2 }), model.maxPositions);
      const p = await prepareFile(file, model, files, settings, seqLen);
      await writeTokenRows(out, p.rows);
      const s = p.stats;
      console.log(`${out}: ${p.rows.length} rows from ${s.examples} ${p.format} examples${settings.packing ? ' (packed)' : ''}; ${s.trainedTokens + s.maskedTokens} tokens, ${s.trainedTokens} trained`);
    });
    return 0;
  }
  const previewCount = num(v, 'examples', 3, { int: true, min: 0, max: 1000 });
  const batchSize = num(v, 'batch-size', 4, { int: true, min: 1 });
  await withModel(v, async (model, files) => {
    const seqLen = Math.min(num(v, 'seq-len', 512, { int: true, min: 2 }), model.maxPositions);
    const p = await prepareFile(file, model, files, settings, seqLen);
    const s = p.stats;
    if (v.json) {
      console.log(JSON.stringify({ format: p.format, rows: p.rows.length, ...s, skipped: p.skipped.length, steps_per_epoch: stepsPerEpoch(p.rows.length, batchSize, 1), warnings: p.warnings }));
      return;
    }
    const pct = (x: number) => `${((100 * x) / Math.max(1, s.trainedTokens + s.maskedTokens)).toFixed(1)}%`;
    console.log(`${file}: ${p.format} data, ${s.examples} examples${settings.packing ? ` packed into ${p.rows.length} rows` : ''}${p.skipped.length ? `, ${p.skipped.length} bad rows skipped` : ''}`);
    console.log(`tokens per example: min ${s.tokens.min}, median ${s.tokens.median}, max ${s.tokens.max}; ${s.tokens.total} in all`);
    console.log(`trained tokens ${s.trainedTokens} (${pct(s.trainedTokens)}), masked ${s.maskedTokens} (${pct(s.maskedTokens)}), mask: ${settings.mask}`);
    console.log(`longer than ${seqLen} tokens: ${s.overMaxLength} examples (${s.tokensLost} tokens cut)`);
    console.log(`steps per epoch at batch size ${batchSize}: ${stepsPerEpoch(p.rows.length, batchSize, 1)}`);
    const style = process.stdout.isTTY ? 'ansi' : 'brackets';
    p.rows.slice(0, previewCount).forEach((row, i) => {
      console.log(`\n--- example ${i + 1}${row.source ? ` (${row.source})` : ''}: ${row.inputIds.length} tokens`);
      console.log(formatPreview(previewRow(row, model.tokenizer), style));
    });
  });
  return 0;
}
