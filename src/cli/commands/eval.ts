// tabtune eval: mean cross-entropy over every target token of a pre-tokenized JSONL file.

import { readFile } from 'node:fs/promises';
import { parseTokenizedJsonl } from '../../data/tokenized-jsonl.ts';
import { evaluate } from '../../model/evaluate.ts';
import { formatBytes } from '../../util/format.ts';
import { num, parse, required } from '../args.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, withModel } from '../session.ts';

export const EVAL_HELP = `tabtune eval --model DIR [--adapter DIR] --data FILE [--seq-len N] [--batch-size B] [--json]
  Mean cross-entropy over every target token of DATA (JSONL, one {"input_ids": [...], "labels": [...]}
  a line; labels default to input_ids, -100 = ignored; logits at t predict labels[t+1]).
  --data FILE              pre-tokenized JSONL
  --seq-len N              cut longer rows to N tokens (default: the model's maximum)
  --batch-size B           rows per forward pass (default 8; the loss does not depend on it)
  --json                   last stdout line: {"loss": <number>, "tokens": <count>}
${MODEL_FLAGS_HELP}`;

export async function evalCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { ...MODEL_FLAGS, data: { type: 'string' }, 'seq-len': { type: 'string' }, 'batch-size': { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) {
    console.log(EVAL_HELP);
    return 0;
  }
  const dataPath = required(v, 'data');
  const seqLen = num(v, 'seq-len', Infinity, { int: true, min: 2 });
  const batchSize = num(v, 'batch-size', 8, { int: true, min: 1, max: 4096 });
  const rows = parseTokenizedJsonl(await readFile(dataPath, 'utf8'), dataPath);
  const result = await withModel(v, async (model) => ({
    ...(await evaluate(model, rows, { seqLen, batchSize })),
    peakBytes: model.gpu.pool.stats().peakBytes,
  }));
  if (v.json) console.log(JSON.stringify({ loss: result.loss, tokens: result.tokens }));
  else {
    console.log(`loss ${result.loss.toFixed(6)} over ${result.tokens} target tokens (perplexity ${Math.exp(result.loss).toFixed(3)})`);
    console.log(`peak GPU memory held: ${formatBytes(result.peakBytes)}`);
  }
  return 0;
}
