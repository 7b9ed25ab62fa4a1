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
import { checkOutDir, checkOutFile, writeFileAtomic } from '../output.ts';
import type { ModelFiles } from '../../formats/byte-source.ts';
import { mergedGgufFile, type MergedGgufType } from '../../formats/merge-gguf.ts';

export const MERGE_HELP = `tabtune merge --model M --adapter DIR --out PATH [--format hf|gguf] [--dtype D] [--max-shard-size 2G]
  Writes the base model with the adapter merged in (W' = W + scaling * B A, in f32 on the GPU).
  --format hf (default)    a Hugging Face folder: config.json, the tokenizer files, and model.safetensors (or
                           shards of at most --max-shard-size with an index), cast once to the base's dtype
                           or --dtype f32|f16|bf16 (a GGUF base's block formats are written as bf16 by default)
  --format gguf            one GGUF file (--out FILE.gguf) from a GGUF base, for llama.cpp and Ollama: tensors
                           the adapter did not touch keep their type and bytes; merged ones are requantized
                           to --dtype same (default: each tensor's own type) | f16 | q8_0
  --hub-base URL  --revision REV   as for --model elsewhere`;

export async function mergeCommand(argv: string[]): Promise<number> {
  const v = parse(argv, {
    model: { type: 'string' }, adapter: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' }, format: { type: 'string' },
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
  const format = optionalString(v, 'format') ?? 'hf';
  if (!['hf', 'gguf'].includes(format)) throw new UsageError(`--format must be hf or gguf, got "${format}"`);
  const dtypeArg = optionalString(v, 'dtype');
  if (format === 'gguf') return mergeToGguf(v, out, base, adapterFiles, dtypeArg);
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

async function mergeToGguf(v: Record<string, unknown>, out: string, base: ModelFiles, adapterFiles: ModelFiles, dtypeArg: string | undefined): Promise<number> {
  const dtype = dtypeArg ?? 'same';
  if (!['same', 'f16', 'q8_0'].includes(dtype)) throw new UsageError(`--dtype for --format gguf must be same, f16 or q8_0, got "${dtype}"`);
  if (!out.toLowerCase().endsWith('.gguf')) throw new UsageError(`--out for --format gguf is the file to write and must end in .gguf, got "${out}"`);
  if (!base.gguf) throw new UsageError(`--format gguf merges into a GGUF base; --model "${String(v.model)}" is a Hugging Face folder (use --format hf)`);
  await checkOutFile(out, [optionalString(v, 'model'), optionalString(v, 'adapter')].filter((p): p is string => p !== undefined));
  const cfg = await readModelConfig(base);
  const { weights } = await readPeftAdapter(adapterFiles, cfg);
  const gpu = await createNodeGpu();
  try {
    const file = await mergedGgufFile(gpu, base, weights, {
      type: dtype === 'same' ? 'same' : (dtype.toUpperCase() as MergedGgufType),
      onProgress: (done, total) => process.stderr.write(`merging: ${Math.round((100 * done) / Math.max(1, total))}%\r`),
    });
    await writeFileAtomic(out, file.chunks);
    process.stderr.write('\n');
    console.log(`wrote the merged model to ${out}`);
  } finally {
    gpu.destroy();
  }
  return 0;
}
