// tabtune generate: text from a prompt, with the KV cache.

import { generateTokens } from '../../model/generate.ts';
import { num, parse, required } from '../args.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, withModel } from '../session.ts';

export const GENERATE_HELP = `tabtune generate --model DIR [--adapter DIR] --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S]
  Continues PROMPT; greedy when the temperature is 0 (default); stops at EOS. Prints the new text.
  --prompt TEXT            the text to continue
  --max-new-tokens N       at most N new tokens (default 64)
  --temperature T          0 = greedy (default); higher = more random
  --top-p P                nucleus sampling mass, 0 < P <= 1 (default 1)
  --seed S                 random seed for sampling (default 0)
  --json                   print {"text", "tokens"} instead of the text
${MODEL_FLAGS_HELP}`;

export async function generateCommand(argv: string[]): Promise<number> {
  const v = parse(argv, {
    ...MODEL_FLAGS,
    prompt: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (v.help) {
    console.log(GENERATE_HELP);
    return 0;
  }
  const prompt = required(v, 'prompt');
  const maxNewTokens = num(v, 'max-new-tokens', 64, { int: true, min: 1, max: 1 << 20 });
  const temperature = num(v, 'temperature', 0, { min: 0 });
  const topP = num(v, 'top-p', 1, { min: Number.MIN_VALUE, max: 1 });
  const seed = num(v, 'seed', 0, { int: true, min: 0 });
  await withModel(v, async (model) => {
    const ids = model.tokenizer.encode(prompt);
    const tokens = await generateTokens(model, ids, { maxNewTokens, temperature, topP, seed });
    const text = model.tokenizer.decode(tokens, { skipSpecialTokens: true });
    console.log(v.json ? JSON.stringify({ text, tokens }) : text);
  });
  return 0;
}
