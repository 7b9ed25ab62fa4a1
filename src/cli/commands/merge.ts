// tabtune merge: the base model with an adapter merged in (W' = W + scaling * B A, in f32 on the GPU,
// cast once), written as a Hugging Face model folder that any tool reading checkpoints loads.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mergedModelFiles } from '../../formats/merge.ts';
import { readPeftAdapter } from '../../formats/peft.ts';
import { createNodeGpu } from '../../gpu/node-gpu.ts';
import { readModelConfig } from '../../model/config.ts';
import { bytesArg, optionalString, parse, required, UsageError } from '../args.ts';
import { resolveFiles } from '../model-source.ts';
import { checkOutDir, writeFileAtomic } from '../output.ts';

export const MERGE_HELP = `tabtune merge --model DIR --adapter DIR --out DIR [--dtype f32|f16|bf16] [--max-shard-size 2G]
  Writes the base model with the adapter merged in: config.json, the tokenizer files, and
  model.safetensors (or shards of at most --max-shard-size with an index). Merged in f32 on the GPU
  and cast once to the base's dtype (or --dtype).
  --hub-base URL  --revision REV   as for --model elsewhere`;

export async function mergeCommand(argv: string[]): Promise<number> {
  const v = parse(argv, {
    model: { type: 'string' }, adapter: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' },
    'max-shard-size': { type: 'string' }, 'hub-base': { type: 'string' }, revision: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    console.log(MERGE_HELP);
    return 0;
  }
  const out = required(v, 'out');
  const source = { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision') };
  const base = resolveFiles(required(v, 'model'), '--model', source);
  const adapterFiles = resolveFiles(required(v, 'adapter'), '--adapter', source);
  const dtypeArg = optionalString(v, 'dtype');
  if (dtypeArg && !['f32', 'f16', 'bf16'].includes(dtypeArg)) throw new UsageError(`--dtype must be f32, f16 or bf16, got "${dtypeArg}"`);
  const maxShardBytes = bytesArg(v, 'max-shard-size');
  if (maxShardBytes !== undefined && maxShardBytes < 1) throw new UsageError(`--max-shard-size must be a positive size like 512M or 2G, got "${String(v['max-shard-size'])}"`);
  await checkOutDir(out, [{ flag: '--model', path: optionalString(v, 'model') }, { flag: '--adapter', path: optionalString(v, 'adapter') }]);
  const cfg = await readModelConfig(base);
  const { weights } = await readPeftAdapter(adapterFiles, cfg);
  const gpu = await createNodeGpu();
  try {
    await mkdir(out, { recursive: true });
    const written: string[] = [];
    for await (const f of mergedModelFiles(gpu, base, weights, {
      dtype: dtypeArg?.toUpperCase() as 'F32' | 'F16' | 'BF16' | undefined,
      maxShardBytes,
      onProgress: (done, total) => process.stderr.write(`merging: ${Math.round((100 * done) / Math.max(1, total))}%\r`),
    })) {
      await writeFileAtomic(join(out, f.name), f.chunks);
      written.push(f.name);
    }
    process.stderr.write('\n');
    console.log(`wrote the merged model to ${out} (${written.join(', ')})`);
  } finally {
    gpu.destroy();
  }
  return 0;
}
