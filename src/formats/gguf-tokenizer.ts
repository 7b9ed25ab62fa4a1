// A GGUF model's tokenizer as the Hugging Face tokenizer.json + tokenizer_config.json that
// @huggingface/tokenizers reads, built so that encoding gives llama.cpp's ids: the same vocabulary,
// merges, pre-tokenizer regexes, special-token splitting, BOS/EOS rules and space prefix as
// llama.cpp's llama-vocab.cpp applies to the file's `tokenizer.*` metadata.

import type { GgufValue } from './gguf.ts';
import { GgufMetadata } from './gguf-metadata.ts';
import { preTokenizerFamily, SUPPORTED_PRE_TOKENIZERS } from './gguf-pretokenizers.ts';
import { mergesFromScores } from './spm-merges.ts';

type Json = Record<string, unknown>;

export interface GgufTokenizerFiles {
  tokenizerJson: Json;
  tokenizerConfig: Json;
}

/** llama_token_type: what each id of `tokenizer.ggml.token_type` means. */
const TOKEN_TYPE = { undefined: 0, normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const SUPPORTED_MODELS = ['gpt2', 'llama'];
const SPACE_MARK = '\u2581';

// Tokens llama.cpp treats as control whatever the file's token type says (it warns "control-looking
// token ... was not control-type"): the end-of-generation texts always, each fill-in-the-middle
// group only when the file names no token for it.
const END_OF_GENERATION = [
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>', '<|endoftext|>',
  '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>', '<eos>', '<turn|>',
  '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
];
const FILL_IN_THE_MIDDLE: [string[], string[]][] = [
  [['fim_pre_token_id', 'prefix_token_id'], ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>']],
  [['fim_suf_token_id', 'suffix_token_id'], ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>']],
  [['fim_mid_token_id', 'middle_token_id'], ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>']],
  [['fim_pad_token_id'], ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]']],
  [['fim_rep_token_id'], ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>']],
  [['fim_sep_token_id'], ['<|file_sep|>']],
];
// gpt-oss's message markers: llama.cpp makes them user-defined so that they always split out.
const ALWAYS_USER_DEFINED = ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>'];
// ...and "<|end|>" too, in the vocabularies where it ends a message rather than the generation.
const END_IS_USER_DEFINED_WITH = [['<|return|>', '<|call|>'], ['<|calls|>', '<|flush|>']];

interface Vocab {
  tokens: string[];
  types: number[];
  scores: number[] | null;
}

function readVocab(m: GgufMetadata): Vocab {
  const tokensKey = 'tokenizer.ggml.tokens';
  const raw = m.strings(tokensKey);
  if (raw === null) m.fail(tokensKey, 'is missing: the file holds no tokenizer vocabulary');
  if (raw.length === 0) m.fail(tokensKey, 'is empty');
  // llama.cpp renames empty tokens rather than refusing the file.
  const tokens = raw.map((t, i) => (t === '' ? `[EMPTY_${i}]` : t));
  const first = new Map<string, number>();
  tokens.forEach((t, i) => {
    const at = first.get(t);
    if (at !== undefined) m.fail(tokensKey, `holds ${JSON.stringify(t)} twice (ids ${at} and ${i}); llama.cpp refuses such a vocabulary`);
    first.set(t, i);
  });
  const n = tokens.length;
  const long = (key: string, a: number[] | null): number[] | null => {
    if (a !== null && a.length < n) m.fail(key, `has ${a.length} entries but "${tokensKey}" has ${n}`);
    return a;
  };
  const types = long('tokenizer.ggml.token_type', m.ints('tokenizer.ggml.token_type')) ?? new Array<number>(n).fill(TOKEN_TYPE.normal);
  const scores = long('tokenizer.ggml.scores', m.numbers('tokenizer.ggml.scores'));
  return { tokens, types, scores };
}

/** The ids of llama.cpp's special tokens: its per-model defaults, overridden by the keys that hold a valid id. */
function specialIds(m: GgufMetadata, model: string, pre: string | null, n: number) {
  const bpe = model === 'gpt2';
  const inRange = (id: number | null) => (id !== null && id >= 0 && id < n ? id : null);
  const defaults: Record<string, number | null> = {
    bos: bpe ? (pre === 'glm4' || pre === 'chatglm-bpe' ? null : 11) : 1,
    eos: bpe ? 11 : 2,
    unk: bpe ? null : 0,
  };
  // A key with an id past the vocabulary is ignored, as llama.cpp does ("bad special token").
  const id = (key: string, name: string) => inRange(m.int(`tokenizer.ggml.${key}`)) ?? inRange(defaults[name] ?? null);
  return {
    bos: id('bos_token_id', 'bos'),
    eos: id('eos_token_id', 'eos'),
    unk: id('unknown_token_id', 'unk'),
    pad: id('padding_token_id', 'pad'),
  };
}

/** Which tokens llama.cpp splits out of the text before tokenizing it, and which of those are special. */
function addedTokens(m: GgufMetadata, v: Vocab): { id: number; content: string; special: boolean }[] {
  const special = new Set<string>(END_OF_GENERATION);
  for (const [keys, texts] of FILL_IN_THE_MIDDLE) {
    const named = keys.some((k) => {
      const id = m.int(`tokenizer.ggml.${k}`);
      return id !== null && id >= 0 && id < v.tokens.length;
    });
    if (!named) for (const t of texts) special.add(t);
  }
  const userDefined = new Set(ALWAYS_USER_DEFINED);
  const present = new Set(v.tokens);
  if (END_IS_USER_DEFINED_WITH.some((pair) => pair.every((t) => present.has(t)))) userDefined.add('<|end|>');
  const out: { id: number; content: string; special: boolean }[] = [];
  v.tokens.forEach((content, id) => {
    const type = v.types[id];
    if (userDefined.has(content)) out.push({ id, content, special: false });
    else if (type === TOKEN_TYPE.control || type === TOKEN_TYPE.unknown || special.has(content)) out.push({ id, content, special: true });
    else if (type === TOKEN_TYPE.userDefined) out.push({ id, content, special: false });
  });
  return out;
}

/** `tokenizer.ggml.merges` as pairs, split where llama.cpp splits them; its first rank wins a duplicate. */
function bpeMerges(m: GgufMetadata): [string, string][] {
  const key = 'tokenizer.ggml.merges';
  const raw = m.strings(key);
  if (raw === null) m.fail(key, 'is missing; a "gpt2" (byte-level BPE) tokenizer needs its merges');
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const s of raw) {
    const at = s.indexOf(' ', 1);
    // llama.cpp keeps such an entry as a pair of empty strings, which never matches.
    if (at < 0 || seen.has(s)) continue;
    seen.add(s);
    out.push([s.slice(0, at), s.slice(at + 1)]);
  }
  return out;
}

function chatTemplate(m: GgufMetadata): string | { name: string; template: string }[] | null {
  const main = m.string('tokenizer.chat_template');
  const names = m.strings('tokenizer.chat_templates') ?? [];
  const named = names.map((name) => {
    const key = `tokenizer.chat_template.${name}`;
    const template = m.string(key);
    if (template === null) m.fail(key, `is missing, though "tokenizer.chat_templates" names "${name}"`);
    return { name, template };
  });
  if (named.length === 0) return main;
  return main === null ? named : [{ name: 'default', template: main }, ...named];
}

function templateProcessing(bos: string | null, eos: string | null, ids: Map<string, number>): Json | null {
  if (bos === null && eos === null) return null;
  const special = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const seq = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const around = (inner: Json[], typeId: number) => [...(bos !== null ? [special(bos, typeId)] : []), ...inner, ...(eos !== null ? [special(eos, typeId)] : [])];
  const specialTokens: Json = {};
  for (const t of [bos, eos]) if (t !== null) specialTokens[t] = { id: t, ids: [ids.get(t)], tokens: [t] };
  return {
    type: 'TemplateProcessing',
    single: around([seq('A', 0)], 0),
    pair: [...around([seq('A', 0)], 0), ...around([seq('B', 1)], 1)],
    special_tokens: specialTokens,
  };
}

function bpeModel(vocab: Json, merges: [string, string][], extra: Json): Json {
  return { type: 'BPE', dropout: null, continuing_subword_prefix: null, end_of_word_suffix: null, vocab, merges, ...extra };
}

/**
 * tokenizer.json and tokenizer_config.json for the tokenizer in a GGUF file's metadata (as readGguf
 * returns it). Supports "gpt2" (byte-level BPE, with any `tokenizer.ggml.pre` in
 * SUPPORTED_PRE_TOKENIZERS) and "llama" (SentencePiece); throws a FormatError naming `file` and the
 * metadata key otherwise.
 */
export function tokenizerFilesFromGguf(metadata: Map<string, GgufValue>, file: string): GgufTokenizerFiles {
  const m: GgufMetadata = new GgufMetadata(metadata, file); // annotated, so that m.fail() narrows types
  const modelKey = 'tokenizer.ggml.model';
  const model = m.string(modelKey);
  if (model === null) m.fail(modelKey, 'is missing: the file holds no tokenizer');
  if (!SUPPORTED_MODELS.includes(model)) {
    m.fail(modelKey, `is ${JSON.stringify(model)}; tabtune reads "gpt2" (byte-level BPE) and "llama" (SentencePiece) tokenizers only`);
  }
  const bpe = model === 'gpt2';
  const preKey = 'tokenizer.ggml.pre';
  const pre = m.string(preKey);
  const family = bpe ? preTokenizerFamily(pre) : null;
  if (bpe && family === null) {
    const hint = pre === 'gpt2' ? ' (llama.cpp spells GPT-2\'s "gpt-2")' : '';
    m.fail(preKey, `is ${JSON.stringify(pre)}, a pre-tokenizer tabtune does not know${hint}; supported: ${SUPPORTED_PRE_TOKENIZERS.join(', ')}`);
  }

  const v = readVocab(m);
  const n = v.tokens.length;
  const ids = specialIds(m, model, pre, n);
  const addBos = m.bool('tokenizer.ggml.add_bos_token') ?? (bpe ? family!.addBos : true);
  const addEos = m.bool('tokenizer.ggml.add_eos_token') ?? false;
  // BPE never adds the prefix in llama.cpp, whatever the key says.
  const addSpacePrefix = !bpe && (m.bool('tokenizer.ggml.add_space_prefix') ?? true);
  if (addBos && ids.bos === null) m.fail('tokenizer.ggml.add_bos_token', 'asks for a BOS token, but the file names none (tokenizer.ggml.bos_token_id)');
  if (addEos && ids.eos === null) m.fail('tokenizer.ggml.add_eos_token', 'asks for an EOS token, but the file names none (tokenizer.ggml.eos_token_id)');

  const text = (id: number | null) => (id === null ? null : v.tokens[id]!);
  const vocab = Object.fromEntries(v.tokens.map((t, i) => [t, i]));
  const idOf = new Map(v.tokens.map((t, i) => [t, i]));
  const added = addedTokens(m, v).map((a) => ({ ...a, single_word: false, lstrip: false, rstrip: false, normalized: false }));

  const tokenizerJson: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    post_processor: templateProcessing(addBos ? text(ids.bos) : null, addEos ? text(ids.eos) : null, idOf),
  };
  if (bpe) {
    const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
    const splits = family!.regexes.map((r) => ({ type: 'Split', pattern: { Regex: r }, behavior: 'Isolated', invert: false }));
    Object.assign(tokenizerJson, {
      normalizer: null,
      pre_tokenizer: { type: 'Sequence', pretokenizers: [...splits, byteLevel] },
      decoder: byteLevel,
      model: bpeModel(vocab, bpeMerges(m), { unk_token: null, fuse_unk: false, byte_fallback: false, ignore_merges: family!.ignoreMerges }),
    });
  } else {
    const replaceSpaces = { type: 'Replace', pattern: { String: ' ' }, content: SPACE_MARK };
    const normalizers = addSpacePrefix ? [{ type: 'Prepend', prepend: SPACE_MARK }, replaceSpaces] : [replaceSpaces];
    const decoders: Json[] = [{ type: 'Replace', pattern: { String: SPACE_MARK }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }];
    if (addSpacePrefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
    Object.assign(tokenizerJson, {
      // llama.cpp prefixes a space to every run of text that starts the input or follows a split-out
      // token: Prepend in the normalizer, which runs on each such run, does exactly that.
      normalizer: { type: 'Sequence', normalizers },
      pre_tokenizer: null,
      decoder: { type: 'Sequence', decoders },
      model: bpeModel(vocab, mergesFromScores(v.tokens, v.scores ?? []), { unk_token: text(ids.unk), fuse_unk: true, byte_fallback: true, ignore_merges: false }),
    });
  }

  const tokenizerConfig: Json = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: addBos,
    add_eos_token: addEos,
    // Decoding stays lossless, as llama.cpp's token-by-token output is (only its whole-sequence
    // detokenize drops the space before "." and "'s" for some pre-tokenizers).
    clean_up_tokenization_spaces: false,
  };
  for (const [key, id] of [
    ['bos_token', ids.bos],
    ['eos_token', ids.eos],
    ['unk_token', ids.unk],
    ['pad_token', ids.pad],
  ] as const) {
    if (id !== null) tokenizerConfig[key] = text(id);
  }
  const template = chatTemplate(m);
  if (template !== null) tokenizerConfig.chat_template = template;
  return { tokenizerJson, tokenizerConfig };
}

