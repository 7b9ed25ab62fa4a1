// tabtune tokenize: the ids a model's tokenizer gives a text, exactly as tabtune feeds them to the
// model. Special-token text ("<|im_start|>") becomes the special token and nothing is added (no
// BOS or EOS), as llama.cpp's tokenize with specials parsed: a quick check against other tools.

import { loadTokenizer } from '../../model/tokenizer.ts';
import { optionalString, parse, required, UsageError } from '../args.ts';
import { resolveFiles } from '../model-source.ts';

export const TOKENIZE_HELP = `tabtune tokenize --model M --text TEXT [--json]
  The token ids of TEXT, special-token text read as the special token, no BOS or EOS added.
  Prints the ids on one line, separated by spaces.
  --text TEXT              the text (use $'...' in bash for newlines and tabs)
  --json                   {"ids": [...], "tokens": [...]}, tokens as the vocabulary writes them
  --model M                a model folder, a .gguf file, or a Hugging Face repo id (as for train)
  --hub-base URL  --revision REV   as for train`;

const FLAGS = {
  model: { type: 'string' },
  text: { type: 'string' },
  json: { type: 'boolean' },
  'hub-base': { type: 'string' },
  revision: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const v = parse(argv, FLAGS);
  if (v.help) {
    console.log(TOKENIZE_HELP);
    return 0;
  }
  const spec = required(v, 'model');
  // An empty text is a text (its ids are none); only a missing flag is a mistake.
  const text = v.text;
  if (typeof text !== 'string') throw new UsageError('--text is required: the text to tokenize');
  const files = resolveFiles(spec, '--model', { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision') });
  const tokenizer = await loadTokenizer(files);
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  if (v.json) console.log(JSON.stringify({ ids, tokens: ids.map((id) => tokenizer.idToToken(id)) }));
  else console.log(ids.join(' '));
  return 0;
}
