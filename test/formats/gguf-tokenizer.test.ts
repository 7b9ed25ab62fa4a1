// A GGUF file's tokenizer, turned into tokenizer.json + tokenizer_config.json by tokenizerFilesFromGguf
// and loaded by tabtune's loadTokenizer, gives the ids llama.cpp itself gives (node-llama-cpp's
// prebuilt, loading the same file vocab-only): real published tokenizers converted as
// convert_hf_to_gguf.py converts them, every pre-tokenizer family, and the metadata variants that
// change llama.cpp's behaviour (add_bos/add_eos, space prefix, token types).

import { afterAll, describe, expect, it } from 'vitest';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { FormatError } from '../../src/formats/errors.ts';
import { type GgufValue, readGguf } from '../../src/formats/gguf.ts';
import { type GgufTokenizerFiles, tokenizerFilesFromGguf } from '../../src/formats/gguf-tokenizer.ts';
import { loadTokenizer, type TextTokenizer } from '../../src/model/tokenizer.ts';
import { gpt2Tokenizer, sentencePieceTokenizer } from '../data/tokenizers.ts';
import { demoTokenizer, folderTokenizer, ggufTokenizerMetadata, type HfTokenizer, type MetaOptions, publishedTokenizer } from '../helpers/gguf-tokenizer-meta.ts';
import { closeLlamaCpp, llamaCppVocab } from '../helpers/llama-cpp-vocab.ts';

afterAll(closeLlamaCpp);

// convert_hf_to_gguf.py's own pre-tokenizer check text, then the cases the brief names.
const CHKTXT =
  '\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 ' +
  '333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български ' +
  "''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL";
const TEXTS = [
  CHKTXT,
  'Hello world! The quick brown fox jumps over the lazy dog.',
  'def f(x):\n\treturn  x  *  2\n\n\n    if x:\t\tpass  # two  spaces',
  '12345678901234567890 3.14159 1,000,000 2024-01-01 0x1F ٣٤٥ ௰ 𝟙𝟚',
  "don't I'M we'Ve a'lL 'S 'RE she's it'd you'll",
  '   leading and trailing   ',
  'line1\nline2\n\nline3\r\nline4\r\n\r\nend.\n\n\n',
  '🚀 emoji 😶‍🌫️ 🦙🦙 ✅ 你好世界，我想在apple工作1314151天～ こんにちは 안녕하세요',
  'مرحبا بالعالم العربي ایران',
  // Llama 3 has these words whole though its merges would split them (ignore_merges).
  'Tôi làm việc ở Việt Nam, nhiều điều hợp lý; jeho ektedir',
  'café résumé naïve Ærøskøbing Ťěšíme e\u0301 x\u0308 \u0915\u094D\u0937 ก่า',
  'HelloWorld ABCdef camelCase XMLHttpRequest ÉCOLE école ΑΒΓαβγ ǅungla',
  'a/b//c\n/ x ++ y += 1; $100 €5 ±√∑ ¹²³ ½ Ⅻ <<< >>> ||| ~~~ ^^^ ``` ,,,',
  '\u00a0nbsp\u3000ideo\u2003em\u0085nel\ufeffbom\u200bzw',
  '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhello<|eot_id|>',
  '<s>[INST] hi [/INST] ok</s><unk><bos><start_of_turn>user\nhi<end_of_turn>',
  '<|im_start', 'x<|im_end|>y', '<tool_call>{"a": 1}</tool_call>',
  '',
  ' ',
  '\n',
  'a'.repeat(300) + ' ' + 'supercalifragilisticexpialidocious'.repeat(12),
];

/** Random strings over pieces that stress the pre-tokenizers and the special-token split. */
function fuzzTexts(count: number, seed: number): string[] {
  const pieces = [' ', ' ', ' ', '\n', '\r', '\t', 'a', 'B', 'z', 'é', 'Ω', 'ж', '1', '2', '٣', '.', ',', '!', "'", "'s", "'S", "'ll", '"', '$', '+',
    '<', '|', '>', '/', '_', '-', '`', '你', '🦙', '😶\u200d🌫️', '\u0301', '\u00a0', '\u3000', '<|im_start|>', '<|im_end|>', '<s>', '</s>', '<|eot_id|>',
    'the', ' the', 'ing', '\u2581', '<0x41>'];
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(next() * 25) }, () => pieces[Math.floor(next() * pieces.length)]).join(''));
}
const ALL_TEXTS = [...TEXTS, ...fuzzTexts(300, 7)];

async function tabtuneTokenizer(files: GgufTokenizerFiles, name = 'model'): Promise<TextTokenizer> {
  const enc = new TextEncoder();
  return loadTokenizer(
    memoryFiles(name, new Map([
      ['tokenizer.json', enc.encode(JSON.stringify(files.tokenizerJson))],
      ['tokenizer_config.json', enc.encode(JSON.stringify(files.tokenizerConfig))],
    ])),
  );
}

/** Replaces (or with `undefined` removes) metadata entries. */
function withMeta(md: [string, GgufValue][], changes: Record<string, GgufValue | undefined>): [string, GgufValue][] {
  const out = md.filter(([k]) => !(k in changes));
  for (const [k, v] of Object.entries(changes)) if (v !== undefined) out.push([k, v]);
  return out;
}

/** Sets the token type of the tokens with the given texts. */
function retype(md: [string, GgufValue][], texts: string[], type: number): [string, GgufValue][] {
  const tokens = md.find(([k]) => k === 'tokenizer.ggml.tokens')![1].value as string[];
  const types = [...(md.find(([k]) => k === 'tokenizer.ggml.token_type')![1].value as number[])];
  for (const t of texts) {
    const id = tokens.indexOf(t);
    if (id < 0) throw new Error(`no token ${JSON.stringify(t)}`);
    types[id] = type;
  }
  return withMeta(md, { 'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: types } });
}

/**
 * Loads `md` into llama.cpp and into tabtune (through a real GGUF file both read) and returns every
 * text whose ids differ, with and without the special tokens added.
 */
async function differences(md: [string, GgufValue][], o: { decode?: 'roundtrip' | 'llama.cpp' } = {}) {
  const cpp = await llamaCppVocab(md);
  try {
    const files = tokenizerFilesFromGguf(readGguf(cpp.bytes, 'test.gguf').metadata, 'test.gguf');
    const tok = await tabtuneTokenizer(files);
    const diffs: { text: string; addSpecial: boolean; tabtune: number[]; llamaCpp: number[] }[] = [];
    const decodeDiffs: { text: string; tabtune: string; expected: string }[] = [];
    for (const text of ALL_TEXTS) {
      for (const addSpecial of [false, true]) {
        const mine = tok.encode(text, { addSpecialTokens: addSpecial });
        const theirs = cpp.tokenize(text, addSpecial);
        if (JSON.stringify(mine) !== JSON.stringify(theirs)) diffs.push({ text, addSpecial, tabtune: mine, llamaCpp: theirs });
      }
      const ids = tok.encode(text, { addSpecialTokens: false });
      // @huggingface/tokenizers' ByteFallback decoder drops a U+FEFF spelled in byte tokens (its
      // TextDecoder strips it as a byte-order mark): a decoding quirk, not a tokenizing one.
      if (o.decode && ids.length > 0 && !text.includes('\ufeff')) {
        const expected = o.decode === 'roundtrip' ? text : cpp.detokenize(ids);
        const got = tok.decode(ids);
        if (got !== expected) decodeDiffs.push({ text, tabtune: got, expected });
      }
    }
    if (cpp.bos !== null) expect(tok.bosTokenId).toBe(cpp.bos);
    if (cpp.eos !== null) expect(tok.eosTokenIds[0]).toBe(cpp.eos);
    return { diffs: diffs.slice(0, 5), count: diffs.length, decodeDiffs: decodeDiffs.slice(0, 5), files };
  } finally {
    await cpp.dispose();
  }
}

async function expectEqual(hf: HfTokenizer, pre: string, o: MetaOptions & { decode?: 'roundtrip' | 'llama.cpp'; change?: (md: [string, GgufValue][]) => [string, GgufValue][] } = {}) {
  let md = ggufTokenizerMetadata(hf.tokenizerJson, hf.tokenizerConfig, pre, o);
  if (o.change) md = o.change(md);
  const r = await differences(md, o);
  expect(r.diffs).toEqual([]);
  expect(r.count).toBe(0);
  expect(r.decodeDiffs).toEqual([]);
  return r.files;
}

describe('GGUF tokenizer: tabtune gives llama.cpp\'s ids', () => {
  it('the demo model (byte-level BPE, pre "gpt-2"), with its chat template carried over', async () => {
    const hf = demoTokenizer();
    const files = await expectEqual(hf, 'gpt-2', { decode: 'roundtrip' });
    expect(files.tokenizerConfig.chat_template).toBe(hf.tokenizerConfig.chat_template);
    expect(files.tokenizerConfig).toMatchObject({ bos_token: '<|im_start|>', eos_token: '<|im_end|>', add_bos_token: false, add_eos_token: false });
  });

  it('Llama 3.1 (llama-bpe: digits in threes, ignore_merges, BOS added)', async () => {
    const hf = publishedTokenizer('llama3_1');
    const files = await expectEqual(hf, 'llama-bpe', { decode: 'roundtrip' });
    expect(files.tokenizerConfig.chat_template).toBe(hf.tokenizerConfig.chat_template);
    expect(files.tokenizerConfig).toMatchObject({ bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>', add_bos_token: true });
  });

  it('Qwen2.5 (qwen2) padded to its model\'s 151936 ids, no NFC as llama.cpp does none', async () => {
    const hf = publishedTokenizer('qwen2_5');
    const files = await expectEqual(hf, 'qwen2', { vocabSize: 151936, decode: 'roundtrip' });
    expect(files.tokenizerConfig.chat_template).toBe(hf.tokenizerConfig.chat_template);
    expect(files.tokenizerConfig).toMatchObject({ eos_token: '<|im_end|>', add_bos_token: false });
    // <tool_call> is not special in Qwen's tokenizer: user-defined, split out but not special.
    const added = files.tokenizerJson.added_tokens as { content: string; special: boolean }[];
    expect(added.find((a) => a.content === '<tool_call>')?.special).toBe(false);
  });

  it('Qwen3 (qwen2)', async () => {
    await expectEqual(publishedTokenizer('qwen3'), 'qwen2');
  });

  it('a Llama 2 style SentencePiece vocabulary (scores, byte fallback, space prefix after each special token)', async () => {
    await expectEqual(publishedTokenizer('llama2'), 'default', { decode: 'llama.cpp' });
  });

  it('Gemma 3 (SentencePiece, 262k tokens, no space prefix, user-defined whitespace tokens)', async () => {
    const hf = publishedTokenizer('gemma3');
    const files = await expectEqual(hf, 'default', { decode: 'llama.cpp' });
    expect(files.tokenizerConfig.chat_template).toBe(hf.tokenizerConfig.chat_template);
  });

  it('a small SentencePiece vocabulary, with and without the space prefix, with EOS added', async () => {
    const sp = await folderTokenizer((await sentencePieceTokenizer()).files);
    await expectEqual(sp, 'default', { decode: 'llama.cpp' });
    await expectEqual(sp, 'default', { decode: 'llama.cpp', change: (md) => withMeta(md, { 'tokenizer.ggml.add_space_prefix': { type: 'bool', value: false } }) });
    await expectEqual(sp, 'default', { change: (md) => withMeta(md, { 'tokenizer.ggml.add_eos_token': { type: 'bool', value: true } }) });
  });

  // GPT-2's vocabulary under each family's regexes: the splits are llama.cpp's whatever the vocabulary.
  it.each(['default', 'llama-bpe', 'dbrx', 'gpt-2', 'smollm', 'starcoder', 'qwen2', 'qwen35', 'falcon', 'tekken', 'gpt-4o'])('pre-tokenizer "%s"', async (pre) => {
    await expectEqual(await folderTokenizer((await gpt2Tokenizer()).files), pre, { decode: 'roundtrip' });
  });

  it('a file without tokenizer.ggml.pre (llama.cpp reads it as "default")', async () => {
    await expectEqual(demoTokenizer(), 'gpt-2', { change: (md) => withMeta(md, { 'tokenizer.ggml.pre': undefined }) });
  });

  it('add_bos / add_eos from the metadata, and a special id past the vocabulary ignored', async () => {
    await expectEqual(demoTokenizer(), 'gpt-2', {
      change: (md) => withMeta(md, { 'tokenizer.ggml.add_bos_token': { type: 'bool', value: true }, 'tokenizer.ggml.add_eos_token': { type: 'bool', value: true }, 'tokenizer.ggml.padding_token_id': { type: 'u32', value: 99999 } }),
    });
    // Llama 3 without the key: llama.cpp's default for llama-bpe is to add BOS.
    await expectEqual(publishedTokenizer('llama3_1'), 'llama-bpe', { change: (md) => withMeta(md, { 'tokenizer.ggml.add_bos_token': undefined }) });
  });

  it('token types: a normal token that looks like an end-of-turn marker is split out as llama.cpp does; user-defined tokens split everywhere', async () => {
    await expectEqual(demoTokenizer(), 'gpt-2', { change: (md) => retype(md, ['<|im_end|>', '<|endoftext|>'], 1) });
    await expectEqual(demoTokenizer(), 'gpt-2', { change: (md) => retype(md, ['and', 'ing'], 4) });
  });
});

describe('tokenizerFilesFromGguf: the metadata it reads', () => {
  const FILE = 'models/m.gguf';
  const base = () => new Map(ggufTokenizerMetadata(demoTokenizer().tokenizerJson, demoTokenizer().tokenizerConfig, 'gpt-2'));
  const fails = (md: Map<string, GgufValue>, ...fragments: string[]) => {
    let err: unknown = null;
    try {
      tokenizerFilesFromGguf(md, FILE);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).file).toBe(FILE);
    for (const f of [FILE, ...fragments]) expect((err as Error).message).toContain(f);
  };
  const set = (key: string, v: GgufValue | undefined) => {
    const md = base();
    if (v === undefined) md.delete(key);
    else md.set(key, v);
    return md;
  };

  it('refuses a missing or unsupported tokenizer model, naming the key and what is supported', () => {
    fails(set('tokenizer.ggml.model', undefined), '"tokenizer.ggml.model" is missing');
    fails(set('tokenizer.ggml.model', { type: 'string', value: 'bert' }), '"tokenizer.ggml.model" is "bert"', '"gpt2"', '"llama"');
    fails(set('tokenizer.ggml.model', { type: 'string', value: 't5' }), '"t5"');
    fails(set('tokenizer.ggml.model', { type: 'u32', value: 1 }), '"tokenizer.ggml.model" must be a string, got a u32');
  });

  it('refuses an unknown pre-tokenizer, listing the supported ones', () => {
    fails(set('tokenizer.ggml.pre', { type: 'string', value: 'deepseek-llm' }), '"tokenizer.ggml.pre" is "deepseek-llm"', 'supported: default, llama3', 'qwen2', 'smollm', 'gpt-2');
    fails(set('tokenizer.ggml.pre', { type: 'string', value: 'gpt2' }), 'llama.cpp spells GPT-2\'s "gpt-2"');
  });

  it('refuses missing, mistyped, short and duplicated arrays', () => {
    fails(set('tokenizer.ggml.tokens', undefined), '"tokenizer.ggml.tokens" is missing');
    fails(set('tokenizer.ggml.tokens', { type: 'array', itemType: 'i32', value: [1, 2] }), '"tokenizer.ggml.tokens" must be an array of strings, got an array of i32');
    fails(set('tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: [1, 1, 1] }), '"tokenizer.ggml.token_type" has 3 entries but "tokenizer.ggml.tokens" has 1024');
    fails(set('tokenizer.ggml.token_type', { type: 'array', itemType: 'string', value: ['1'] }), '"tokenizer.ggml.token_type" must be an array of integers');
    fails(set('tokenizer.ggml.merges', undefined), '"tokenizer.ggml.merges" is missing');
    const tokens = [...(base().get('tokenizer.ggml.tokens')!.value as string[])];
    tokens[5] = tokens[9]!;
    fails(set('tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }), `holds ${JSON.stringify(tokens[9])} twice (ids 5 and 9)`);
    const sp = new Map(ggufTokenizerMetadata(demoTokenizer().tokenizerJson, demoTokenizer().tokenizerConfig, 'default'));
    sp.set('tokenizer.ggml.model', { type: 'string', value: 'llama' });
    sp.set('tokenizer.ggml.scores', { type: 'array', itemType: 'f32', value: [0, 0] });
    fails(sp, '"tokenizer.ggml.scores" has 2 entries');
  });

  it('refuses mistyped special ids and a BOS it would have to add but cannot name', () => {
    fails(set('tokenizer.ggml.bos_token_id', { type: 'string', value: '1' }), '"tokenizer.ggml.bos_token_id" must be an integer, got a string');
    fails(set('tokenizer.ggml.add_bos_token', { type: 'u8', value: 1 }), '"tokenizer.ggml.add_bos_token" must be a bool');
    // Three tokens: llama.cpp's BPE default BOS (id 11) is past the vocabulary.
    const tiny = new Map<string, GgufValue>([
      ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
      ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: ['a', 'b', 'ab'] }],
      ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: ['a b'] }],
      ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ]);
    fails(tiny, '"tokenizer.ggml.add_bos_token" asks for a BOS token', 'tokenizer.ggml.bos_token_id');
  });

  it('reads llama.cpp\'s defaults: no pre is "default", empty tokens are renamed, BOS for SentencePiece', async () => {
    const tiny = new Map<string, GgufValue>([
      ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
      ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: ['a', 'b', 'ab', ''] }],
      ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: ['a b', 'a b', 'junk'] }],
    ]);
    const files = tokenizerFilesFromGguf(tiny, FILE);
    const model = files.tokenizerJson.model as { vocab: Record<string, number>; merges: string[][] };
    expect(model.vocab).toEqual({ a: 0, b: 1, ab: 2, '[EMPTY_3]': 3 });
    expect(model.merges).toEqual([['a', 'b']]);
    expect(files.tokenizerJson.post_processor).toBeNull();
    expect((await tabtuneTokenizer(files)).encode('abab')).toEqual([2, 2]);

    tiny.set('tokenizer.ggml.model', { type: 'string', value: 'llama' });
    tiny.set('tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: ['<unk>', '<s>', '</s>', '▁', 'a', '▁a'] });
    const sp = tokenizerFilesFromGguf(tiny, FILE);
    expect(sp.tokenizerConfig).toMatchObject({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, add_eos_token: false });
    expect((await tabtuneTokenizer(sp)).encode('a')).toEqual([1, 5]);
  });

  it('carries named chat templates over as transformers\' list, and refuses one that is named but absent', () => {
    const md = base();
    md.set('tokenizer.chat_template', { type: 'string', value: 'main {{ bos_token }}' });
    md.set('tokenizer.chat_templates', { type: 'array', itemType: 'string', value: ['tool_use'] });
    md.set('tokenizer.chat_template.tool_use', { type: 'string', value: 'tools' });
    expect(tokenizerFilesFromGguf(md, FILE).tokenizerConfig.chat_template).toEqual([
      { name: 'default', template: 'main {{ bos_token }}' },
      { name: 'tool_use', template: 'tools' },
    ]);
    md.delete('tokenizer.chat_template.tool_use');
    fails(md, '"tokenizer.chat_template.tool_use" is missing');
  });
});
