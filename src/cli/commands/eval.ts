// tabtune eval: mean cross-entropy over every target token of a pre-tokenized JSONL file.

import { evaluate } from '../../model/evaluate.ts';
import { formatBytes } from '../../util/format.ts';
import { num, parse, required } from '../args.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, withModel } from '../session.ts';
import { DATA_FLAGS, DATA_FLAGS_HELP, dataSettings, prepareFile } from '../dataset.ts';
import { checkInputFile } from '../output.ts';

export const EVAL_HELP = `tabtune eval --model DIR [--adapter DIR] --data FILE [--seq-len N] [--batch-size B] [--json]
  Mean cross-entropy over every target token of DATA (logits at t predict labels[t+1]; -100 = ignored).
  Pre-tokenized JSONL ({"input_ids": [...], "labels": [...]}, labels default to input_ids) is used as it
  is, no BOS or EOS added; other formats are tokenized and masked as for training.
  --data FILE              any format \`tabtune data inspect\` reads
  --seq-len N              cut longer rows to N tokens (default: the model's maximum)
  --batch-size B           rows per forward pass (default 8; the loss does not depend on it)
  --json                   last stdout line: {"loss": <number>, "tokens": <count>}
${DATA_FLAGS_HELP}
${MODEL_FLAGS_HELP}`;

export async function evalCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { ...MODEL_FLAGS, ...DATA_FLAGS, data: { type: 'string' }, 'seq-len': { type: 'string' }, 'batch-size': { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) {
    console.log(EVAL_HELP);
    return 0;
  }
  const dataPath = required(v, 'data');
  const seqLen = num(v, 'seq-len', Infinity, { int: true, min: 2 });
  const batchSize = num(v, 'batch-size', 8, { int: true, min: 1, max: 4096 });
  const settings = dataSettings(v);
  await checkInputFile(dataPath, '--data');
  const result = await withModel(v, async (model, files) => {
    const rows = (await prepareFile(dataPath, model, files, settings, Math.min(seqLen, model.maxPositions))).rows;
    return { ...(await evaluate(model, rows, { seqLen, batchSize })), peakBytes: model.gpu.pool.stats().peakBytes };
  });
  if (v.json) console.log(JSON.stringify({ loss: result.loss, tokens: result.tokens }));
  else {
    console.log(`loss ${result.loss.toFixed(6)} over ${result.tokens} target tokens (perplexity ${Math.exp(result.loss).toFixed(3)})`);
    console.log(`peak GPU memory held: ${formatBytes(result.peakBytes)}`);
  }
  return 0;
}
