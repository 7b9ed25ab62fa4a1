// llama.cpp's byte-level BPE pre-tokenizers, keyed by a GGUF's `tokenizer.ggml.pre`: the regexes it
// splits text with before the merges, and the per-family defaults it sets beside them
// (llama-vocab.cpp: llama_vocab::impl::load and llm_tokenizer_bpe). Each regex splits every piece the
// previous one left, keeping the unmatched text as pieces of its own ("Isolated" in Hugging Face
// terms). The strings are llama.cpp's own adaptations (case classes instead of `(?i:...)`), which a
// JavaScript RegExp with the `u` flag reads the same way llama.cpp's splitters do.

export interface PreTokenizerFamily {
  /** Split in order, each over the pieces the previous one left. */
  regexes: string[];
  /** A pre-token that is itself in the vocabulary is emitted whole, without merges (llama3, tekken). */
  ignoreMerges: boolean;
  /** llama.cpp's add_bos when the file has no `tokenizer.ggml.add_bos_token`. */
  addBos: boolean;
}

const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

// The trailing `|\s+` is not in llama.cpp's string, but its GPT-2 splitter implements it.
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const QWEN2 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const QWEN35 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
// llama.cpp matches these on a copy of the text where every non-ASCII letter stands for both cases,
// so `(?=\p{L})[^a-z]` (any letter but a-z) is what it computes, not Unicode's upper/lower split.
const UPPER = '(?:(?=\\p{L})[^a-z])';
const LOWER = '(?:(?=\\p{L})[^A-Z])';
const TEKKEN = `[^\\r\\n\\p{L}\\p{N}]?${UPPER}*${LOWER}+|[^\\r\\n\\p{L}\\p{N}]?${UPPER}+${LOWER}*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const GPT4O =
  `[^\\r\\n\\p{L}\\p{N}]?${UPPER}*${LOWER}+${CONTRACTIONS}?|[^\\r\\n\\p{L}\\p{N}]?${UPPER}+${LOWER}*${CONTRACTIONS}?` +
  `|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;

const family = (regexes: string[], o: { ignoreMerges?: boolean; addBos?: boolean } = {}): PreTokenizerFamily => ({
  regexes,
  ignoreMerges: o.ignoreMerges ?? false,
  addBos: o.addBos ?? false,
});

const DEFAULT = family(['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]']);
const FAMILIES: [string[], PreTokenizerFamily][] = [
  [['default'], DEFAULT],
  [['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'], family([LLAMA3], { ignoreMerges: true, addBos: true })],
  [['dbrx', 'smaug-bpe', 'glm4', 'chatglm-bpe'], family([LLAMA3])],
  [['gpt-2', 'phi-2', 'jina-es', 'jina-de', 'gigachat', 'jina-v2-es', 'jina-v2-de', 'a.x-4.0', 'mellum', 'modern-bert', 'exaone4', 'mpt', 'olmo', 'jais', 'trillion', 'granite-docling'], family([GPT2])],
  [['starcoder', 'refact', 'command-r', 'smollm', 'codeshell', 'exaone', 'minerva-7b', 'mellum2'], family(['\\p{N}', GPT2])],
  [['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2', 'megrez', 'stablelm2', 'hunyuan', 'solar-open'], family([QWEN2])],
  [['qwen35'], family([QWEN35])],
  [['falcon'], family(['[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2, '[0-9][0-9][0-9]'])],
  [['tekken'], family([TEKKEN], { ignoreMerges: true, addBos: true })],
  [['gpt-4o', 'llama4', 'kanana2', 'talkie'], family([GPT4O])],
];

const BY_NAME = new Map(FAMILIES.flatMap(([names, f]) => names.map((n) => [n, f] as const)));

/** Every `tokenizer.ggml.pre` value tabtune reads, for error messages. */
export const SUPPORTED_PRE_TOKENIZERS: readonly string[] = FAMILIES.flatMap(([names]) => names);

/** The family of a `tokenizer.ggml.pre` value; llama.cpp reads a missing or empty one as "default". */
export function preTokenizerFamily(pre: string | null): PreTokenizerFamily | null {
  if (pre === null || pre === '') return DEFAULT;
  return BY_NAME.get(pre) ?? null;
}
