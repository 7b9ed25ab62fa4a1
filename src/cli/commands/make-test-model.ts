// tabtune make-test-model: writes a small random model folder in the real Hugging Face layout.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Architecture } from '../../model/config.ts';
import { makeTestModel } from '../../model/test-model.ts';
import { num, optionalString, parse, required, UsageError } from '../args.ts';
import { checkOutDir } from '../output.ts';

export const MAKE_TEST_MODEL_HELP = `tabtune make-test-model --out DIR [--arch llama|mistral|qwen2|qwen3|gemma3] [--dtype f32|f16|bf16] [--seed S] [--layers N] [--hidden N] [--shards N] [--tied]
  Writes config.json, tokenizer.json, tokenizer_config.json and safetensors weights of a small random model
  (gemma3: Gemma3ForCausalLM, tied, with sliding and full-attention layers).`;

const ARCHS = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma3'];

export async function makeTestModelCommand(argv: string[]): Promise<number> {
  const v = parse(argv, {
    out: { type: 'string' },
    arch: { type: 'string' },
    dtype: { type: 'string' },
    seed: { type: 'string' },
    layers: { type: 'string' },
    hidden: { type: 'string' },
    shards: { type: 'string' },
    tied: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    console.log(MAKE_TEST_MODEL_HELP);
    return 0;
  }
  const out = required(v, 'out');
  const arch = optionalString(v, 'arch') ?? 'llama';
  if (!ARCHS.includes(arch)) throw new UsageError(`--arch must be one of ${ARCHS.join(', ')}, got "${arch}"`);
  const dtype = (optionalString(v, 'dtype') ?? 'bf16').toUpperCase();
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new UsageError(`--dtype must be f32, f16 or bf16, got "${dtype.toLowerCase()}"`);
  const files = makeTestModel({
    architecture: arch as Architecture,
    dtype: dtype as 'F32' | 'F16' | 'BF16',
    seed: num(v, 'seed', 0, { int: true, min: 0 }),
    numLayers: num(v, 'layers', 2, { int: true, min: 1, max: 64 }),
    hiddenSize: num(v, 'hidden', 32, { int: true, min: 8, max: 4096 }),
    shards: num(v, 'shards', 1, { int: true, min: 1, max: 64 }),
    // Gemma 3 ties its embeddings unless told otherwise (Gemma3TextConfig's default); the others untie.
    ...(v.tied === true || arch !== 'gemma3' ? { tied: v.tied === true } : {}),
  });
  await checkOutDir(out);
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(out, name), bytes);
  console.log(`wrote a ${arch} test model (${[...files.keys()].join(', ')}) to ${out}`);
  return 0;
}
