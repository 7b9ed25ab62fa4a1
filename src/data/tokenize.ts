// One example -> input_ids and labels (-100 = not trained), the way transformers / TRL's SFTTrainer
// build them, with tabtune computing the loss masks itself: a chat is rendered once and each
// assistant turn located in that rendering (chat-spans.ts).

import type { TextTokenizer } from '../model/tokenizer.ts';
import type { ChatTemplate } from './chat-template.ts';
import { assistantSpans, type Span } from './chat-spans.ts';
import type { ChatMessage, Example } from './types.ts';

/**
 * prompt (default): train on the completion / Alpaca output / every assistant turn;
 * none: every token; last-turn: only the last assistant turn (chat; elsewhere as prompt).
 */
export type MaskMode = 'prompt' | 'none' | 'last-turn';

export interface TokenizeContext {
  tokenizer: TextTokenizer;
  template: ChatTemplate;
  mask: MaskMode;
  /** The model's vocabulary (its embedding rows), which may exceed the tokenizer's; default the tokenizer's. */
  vocabSize?: number;
}

export const IGNORE_INDEX = -100;

/** Stanford Alpaca's prompts (train.py PROMPT_DICT); the output follows "### Response:" directly. */
export const ALPACA_PROMPT_WITH_INPUT =
  'Below is an instruction that describes a task, paired with an input that provides further context. ' +
  'Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:';
export const ALPACA_PROMPT_NO_INPUT =
  'Below is an instruction that describes a task. ' +
  'Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Response:';

export function alpacaPrompt(instruction: string, input: string): string {
  // A function replacer: "$&" and friends in user text stay literal.
  const fill = (t: string) => t.replace('{instruction}', () => instruction).replace('{input}', () => input);
  return fill(input !== '' ? ALPACA_PROMPT_WITH_INPUT : ALPACA_PROMPT_NO_INPUT);
}

/** A row's problem that the user can fix (bad ids, nothing to learn); prepare names the row. */
export class ExampleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExampleError';
  }
}

function withEos(ids: number[], tok: TextTokenizer): number[] {
  const eos = tok.eosTokenIds[0];
  if (eos === undefined) return ids;
  const last = ids[ids.length - 1];
  return last !== undefined && tok.eosTokenIds.includes(last) ? ids : [...ids, eos];
}

/** TRL's prompt-completion tokenization: mask the first len(encode(prompt)) tokens of encode(prompt + completion). */
function promptCompletion(prompt: string, completion: string, ctx: TokenizeContext): { inputIds: number[]; labels: number[] } {
  const tok = ctx.tokenizer;
  const promptLen = tok.encode(prompt).length;
  const inputIds = withEos(tok.encode(prompt + completion), tok);
  const labels = inputIds.map((id, i) => (ctx.mask !== 'none' && i < promptLen ? IGNORE_INDEX : id));
  return { inputIds, labels };
}

// ---------------------------------------------------------------------------------------------
// Chat.

/** Special tokens named as an end (of a turn, message, sentence or text): "<|im_end|>", "<|eot_id|>", "<end_of_turn>", "</s>", "<|end|>". */
const END_TOKEN = /end|eot|eom|eos|^<\/s>$|return/i;
const NOT_AN_END = /header|start|begin/i;

/**
 * The tokens that close an assistant turn, trained with it: the EOS tokens and the special tokens
 * named as ends. A base model's EOS ("<|endoftext|>") need not be its chat template's turn end
 * ("<|im_end|>"), so names count too.
 */
const turnEnds = new WeakMap<TextTokenizer, string[]>();

export function endOfTurnTokens(tok: TextTokenizer): string[] {
  let ends = turnEnds.get(tok);
  if (!ends) {
    const eos = tok.eosTokenIds.map((id) => tok.decode([id])).filter((t) => t !== '');
    ends = [...new Set([...eos, ...tok.specialTokens.filter((t) => END_TOKEN.test(t) && !NOT_AN_END.test(t))])];
    turnEnds.set(tok, ends);
  }
  return ends;
}

function arraysEqual(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Encodes text that follows other text (not at the start of the input): some tokenizers (Metaspace
 * with prepend_scheme "first") add a "▁" only at the start. Placing a special token before the text
 * makes it a later section, as it is inside the whole rendering; the special token is then dropped.
 */
const anchors = new WeakMap<TextTokenizer, { text: string; id: number } | null>();

function anchorOf(tok: TextTokenizer): { text: string; id: number } | null {
  const known = anchors.get(tok);
  if (known !== undefined) return known;
  let found: { text: string; id: number } | null = null;
  for (const id of [...tok.eosTokenIds, ...(tok.bosTokenId !== null ? [tok.bosTokenId] : [])]) {
    const text = tok.decode([id]);
    if (text === '' || !arraysEqual(tok.encode(text, { addSpecialTokens: false }), [id])) continue;
    // A token that strips the whitespace after it (rstrip) would eat the segment's leading spaces.
    const probe = tok.encode(`${text} \n`, { addSpecialTokens: false });
    if (probe.length < 2 || probe[0] !== id) continue;
    found = { text, id };
    break;
  }
  anchors.set(tok, found);
  return found;
}

function encodeContinuation(text: string, tok: TextTokenizer): number[] {
  const anchor = anchorOf(tok);
  if (anchor) {
    const ids = tok.encode(anchor.text + text, { addSpecialTokens: false });
    if (ids[0] === anchor.id) return ids.slice(1);
  }
  return tok.encode(text, { addSpecialTokens: false });
}

/** Length of the common prefix of two id lists. */
function sharedPrefix(a: number[], b: number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * The rendering's tokens and, for each, the assistant turn it trains (or null). Tokenization is cut
 * where each turn's generation starts and where it ends: when the tokens of the text before every
 * cut are a prefix of the whole rendering's tokens (the usual case) those are the whole rendering's
 * tokens; otherwise (a token would straddle a cut) the text is encoded as consecutive segments split
 * at the cuts, as a model generating the turn would produce it. Between a turn's generation start
 * and its trained text lies text the template writes (an empty think block, a space): its tokens are
 * not trained, except one that also holds trained text.
 */
function chatTokens(text: string, spans: Span[], tok: TextTokenizer): { ids: number[]; trained: (number | null)[] } {
  const cuts = [...new Set(spans.flatMap((s) => [s.promptEnd, s.end]))].filter((c) => c > 0 && c < text.length).sort((a, b) => a - b);
  const encodeAt = (a: number, b: number) => (a === 0 ? tok.encode(text.slice(0, b), { addSpecialTokens: false }) : encodeContinuation(text.slice(a, b), tok));
  const whole = encodeAt(0, text.length);
  const tokenAt = new Map<number, number>([
    [0, 0],
    [text.length, whole.length],
  ]);
  let aligned = true;
  for (const c of cuts) {
    const prefix = encodeAt(0, c);
    if (!arraysEqual(prefix, whole.slice(0, prefix.length))) {
      aligned = false;
      break;
    }
    tokenAt.set(c, prefix.length);
  }
  let ids = whole;
  if (!aligned) {
    ids = [];
    const bounds = [0, ...cuts, text.length];
    for (let k = 0; k + 1 < bounds.length; k++) {
      tokenAt.set(bounds[k]!, ids.length);
      ids.push(...encodeAt(bounds[k]!, bounds[k + 1]!));
    }
    tokenAt.set(text.length, ids.length);
  }
  const trained: (number | null)[] = new Array<number | null>(ids.length).fill(null);
  spans.forEach((s, k) => {
    const from = tokenAt.get(s.promptEnd)!;
    const to = tokenAt.get(s.end)!;
    // Template text before the trained text: its whole tokens stay untrained; a token that runs on
    // into the trained text is trained.
    const lead = s.start > s.promptEnd ? sharedPrefix(encodeAt(s.promptEnd, s.start), ids.slice(from, to)) : 0;
    for (let t = from + lead; t < to; t++) trained[t] = k;
  });
  return { ids, trained };
}

/**
 * A conversation's ids as the template renders it: the one way chat text becomes tokens, for training
 * and for chat-mode generation (with the generation prompt). The template writes BOS and the turn
 * markers itself, so the tokenizer must not add its own.
 */
export function encodeChat(messages: ChatMessage[], template: ChatTemplate, tok: TextTokenizer, addGenerationPrompt = false): number[] {
  return tok.encode(template.render(messages, addGenerationPrompt), { addSpecialTokens: false });
}

function tokenizeChat(messages: ChatMessage[], ctx: TokenizeContext): { inputIds: number[]; labels: number[] } {
  if (ctx.mask === 'none') {
    const inputIds = encodeChat(messages, ctx.template, ctx.tokenizer);
    return { inputIds, labels: [...inputIds] };
  }
  const { text, spans } = assistantSpans(messages, ctx.template, endOfTurnTokens(ctx.tokenizer));
  const { ids, trained } = chatTokens(text, spans, ctx.tokenizer);
  const keep = ctx.mask === 'last-turn' ? spans.length - 1 : null;
  const labels = ids.map((id, t) => {
    const span = trained[t];
    return span !== null && span !== undefined && (keep === null || span === keep) ? id : IGNORE_INDEX;
  });
  return { inputIds: ids, labels };
}

// ---------------------------------------------------------------------------------------------

function checkIds(inputIds: number[], labels: number[], vocabSize: number, fromTokenizer: boolean): void {
  if (labels.length !== inputIds.length) {
    throw new ExampleError(`labels has ${labels.length} entries but input_ids has ${inputIds.length}`);
  }
  const bad = inputIds.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
  if (bad >= 0) {
    const why = fromTokenizer
      ? `; the model's own tokenizer produced it, so tokenizer.json (or the EOS id) does not match the model's vocab_size in config.json`
      : '';
    throw new ExampleError(`input_ids[${bad}] = ${inputIds[bad]} is outside the vocabulary (0 .. ${vocabSize - 1})${why}`);
  }
  const badLabel = labels.findIndex((id) => id !== IGNORE_INDEX && (!Number.isInteger(id) || id < 0 || id >= vocabSize));
  if (badLabel >= 0) {
    throw new ExampleError(`labels[${badLabel}] = ${labels[badLabel]} is neither -100 nor inside the vocabulary (0 .. ${vocabSize - 1})`);
  }
}

/**
 * text: encode(text) with the tokenizer's special tokens, then EOS unless it is already last.
 * completion: TRL's prompt-completion masking (EOS appended likewise). alpaca: the Stanford prompt
 * with the output as completion. chat: the template's rendering, trained on the assistant turns.
 * tokens: as given (labels default to input_ids; position_ids of packed rows kept). Every id is
 * checked against the vocabulary.
 */
export function tokenizeExample(ex: Example, ctx: TokenizeContext): { inputIds: number[]; labels: number[]; positionIds?: number[] } {
  let out: { inputIds: number[]; labels: number[]; positionIds?: number[] };
  switch (ex.kind) {
    case 'text': {
      const inputIds = withEos(ctx.tokenizer.encode(ex.text), ctx.tokenizer);
      out = { inputIds, labels: [...inputIds] };
      break;
    }
    case 'completion':
      out = promptCompletion(ex.prompt, ex.completion, ctx);
      break;
    case 'alpaca':
      out = promptCompletion(alpacaPrompt(ex.instruction, ex.input), ex.output, ctx);
      break;
    case 'chat':
      out = tokenizeChat(ex.messages, ctx);
      break;
    case 'tokens':
      out = { inputIds: [...ex.inputIds], labels: [...(ex.labels ?? ex.inputIds)], ...(ex.positionIds ? { positionIds: [...ex.positionIds] } : {}) };
      break;
  }
  checkIds(out.inputIds, out.labels, ctx.vocabSize ?? ctx.tokenizer.vocabSize, ex.kind !== 'tokens');
  return out;
}
