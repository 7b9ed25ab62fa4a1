// Loads a model folder's Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) through
// @huggingface/tokenizers, which runs the same in a browser and in Node.

import { Tokenizer } from '@huggingface/tokenizers';
import { readText, type ModelFiles } from '../formats/byte-source.ts';
import { FormatError } from '../formats/errors.ts';

export interface TextTokenizer {
  /** Ids the tokenizer can produce: 1 + the largest id of its vocab and added tokens. */
  vocabSize: number;
  /** Informational: encode adds it only when the tokenizer's post-processor does. */
  bosTokenId: number | null;
  eosTokenIds: number[];
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The vocabulary entry of an id as the tokenizer stores it (e.g. "Ġthe", "▁the"), or null for an unknown id. */
  idToToken(id: number): string | null;
  /** The texts of tokenizer.json's added tokens marked special ("<|im_end|>", "<end_of_turn>", ...). */
  specialTokens: string[];
}

type Json = Record<string, unknown>;

/** Tokenizer models @huggingface/tokenizers implements (it silently falls back to a legacy one for others). */
const MODEL_TYPES = ['BPE', 'WordPiece', 'Unigram'];

async function readJson(files: ModelFiles, file: string, required: boolean): Promise<Json | null> {
  const src = await files.get(file);
  if (!src) {
    if (!required) return null;
    throw new FormatError(`${files.name}/${file}`, `is missing; the model folder "${files.name}" needs a Hugging Face tokenizer.json`);
  }
  let value: unknown;
  try {
    value = JSON.parse(await readText(src));
  } catch (e) {
    throw new FormatError(`${files.name}/${file}`, `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FormatError(`${files.name}/${file}`, 'must hold a JSON object');
  }
  return value as Json;
}

/** tokenizer_config writes special tokens as a string or as an AddedToken object. */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

export async function loadTokenizer(
  files: ModelFiles,
  config?: { bosTokenId: number | null; eosTokenIds: number[] },
): Promise<TextTokenizer> {
  const json = await readJson(files, 'tokenizer.json', true);
  const tcfg = (await readJson(files, 'tokenizer_config.json', false)) ?? {};
  const where = `${files.name}/tokenizer.json`;
  if (typeof json?.model !== 'object' || json.model === null || Array.isArray(json.model)) throw new FormatError(where, 'has no "model" object');
  const type = (json.model as Json).type;
  if (type !== undefined && type !== null && !MODEL_TYPES.includes(type as string)) {
    throw new FormatError(where, `field "model"."type" is ${JSON.stringify(type)}; supported tokenizer models: ${MODEL_TYPES.join(', ')}`);
  }

  // The library insists on these keys; older files leave some out.
  const full: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json };
  // Special tokens may be serialized AddedToken objects; the library expects plain strings.
  const libConfig: Json = { ...tcfg };
  for (const k of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    if (k in libConfig) libConfig[k] = tokenText(libConfig[k]) ?? undefined;
  }
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(full, libConfig);
  } catch (e) {
    throw new FormatError(where, `could not be loaded as a tokenizer (${(e as Error).message})`);
  }

  let maxId = -1;
  for (const id of tok.get_vocab(true).values()) maxId = Math.max(maxId, id);
  if (maxId < 0) throw new FormatError(where, 'has an empty vocabulary (no "model"."vocab" entries and no added tokens); the file is incomplete');
  const vocabSize = maxId + 1;
  const idOf = (key: string): number | null => {
    const text = tokenText(tcfg[key]);
    return text === null ? null : (tok.token_to_id(text) ?? null);
  };
  const tokEos = idOf('eos_token');
  const eosTokenIds = config && config.eosTokenIds.length > 0 ? [...config.eosTokenIds] : tokEos !== null ? [tokEos] : [];
  const bosTokenId = config?.bosTokenId ?? idOf('bos_token');

  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as unknown[]) : [];
  const specialTokens = added.flatMap((t) => {
    const a = t as Json;
    return typeof a === 'object' && a !== null && a.special === true && typeof a.content === 'string' ? [a.content] : [];
  });

  return {
    vocabSize,
    bosTokenId,
    specialTokens,
    eosTokenIds,
    encode(text, opts) {
      return tok.encode(text, { add_special_tokens: opts?.addSpecialTokens ?? true }).ids;
    },
    decode(ids, opts) {
      // Models pad their vocab past the tokenizer's; those ids have no text.
      const known = ids.filter((id) => Number.isInteger(id) && id >= 0 && id < vocabSize);
      if (known.length === 0) return '';
      return tok.decode(known, { skip_special_tokens: opts?.skipSpecialTokens ?? false });
    },
    idToToken(id) {
      return tok.id_to_token(id) ?? null;
    },
  };
}
