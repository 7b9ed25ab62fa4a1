// Where each assistant message sits in a conversation's one rendering, for assistant-only loss.
// Templates rewrite turns in ways that defeat rendering prefixes (Qwen3 drops earlier reasoning and
// writes an empty think block only in the last turn, Llama 3.x writes dates, Gemma folds the system
// prompt into the first user turn, Mistral into the last), so each message is found in the whole
// rendering itself:
// - a template with {% generation %} blocks says what is trained: exactly those blocks;
// - otherwise message i's content is whatever changes in the rendering when only that content
//   changes (rendered again with a marker in its place), widened to its reasoning's opening <think>
//   and to the end-of-turn special token the template writes right after it.

import { type ChatTemplate, ChatTemplateError, GENERATION_CLOSE, GENERATION_OPEN } from './chat-template.ts';
import type { ChatMessage } from './types.ts';

export interface Span {
  /** Character offsets into the rendering, end exclusive. */
  start: number;
  end: number;
  /**
   * Where a model asked to write this turn starts: the end of the generation prompt when rendering
   * the conversation before the turn with it is a prefix of the whole rendering; else `start`.
   * Tokenization is cut here, as generation would cut it (see chatTokens in tokenize.ts).
   */
  promptEnd: number;
}

export interface ChatSpans {
  /** render(messages, false): the conversation's text. */
  text: string;
  /** The trained characters of each assistant turn, in order, not overlapping. */
  spans: Span[];
}

/** The texts of the special tokens that end a turn (see endOfTurnTokens in tokenize.ts). */
export type TurnEnds = readonly string[];

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';

/** A noncharacter that none of the messages contains, to stand in for one message's content. */
function placeholderFor(messages: ChatMessage[]): string {
  for (let c = 0xfdd2; c <= 0xfdef; c++) {
    const mark = String.fromCharCode(c);
    if (!messages.some((m) => m.content.includes(mark) || (m.reasoning ?? '').includes(mark))) return mark;
  }
  throw new Error('every placeholder character occurs in the conversation');
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Length of the common suffix that does not reach back into the first `prefix` characters of either. */
function commonSuffix(a: string, b: string, prefix: number): number {
  const n = Math.min(a.length, b.length) - prefix;
  let i = 0;
  while (i < n && a.charCodeAt(a.length - 1 - i) === b.charCodeAt(b.length - 1 - i)) i++;
  return i;
}

function hasReasoning(m: ChatMessage): boolean {
  return (m.reasoning !== undefined && m.reasoning.trim() !== '') || m.content.includes(THINK_CLOSE);
}

/** Past the end-of-turn token right after `end` (spaces or newlines may come first), else `end`. */
function endOfTurn(text: string, end: number, ends: TurnEnds): number {
  let at = end;
  while (at < text.length && (text[at] === ' ' || text[at] === '\n')) at++;
  let best = 0;
  for (const t of ends) if (t.length > best && text.startsWith(t, at)) best = t.length;
  return best > 0 ? at + best : end;
}

function fromGenerationBlocks(marked: string, origin: string): ChatSpans {
  const spans: Span[] = [];
  let text = '';
  let open: number | null = null;
  for (const ch of marked) {
    if (ch === GENERATION_OPEN || ch === GENERATION_CLOSE) {
      if ((ch === GENERATION_OPEN) !== (open === null)) {
        throw new ChatTemplateError(origin, '{% generation %} and {% endgeneration %} do not pair up in the rendering');
      }
      if (ch === GENERATION_OPEN) open = text.length;
      else {
        spans.push({ start: open!, end: text.length, promptEnd: open! });
        open = null;
      }
    } else text += ch;
  }
  if (open !== null) throw new ChatTemplateError(origin, 'a {% generation %} block is not closed in the rendering');
  return { text, spans };
}

/** Message i's trained characters in `text`: its content as rendered, its reasoning, its end-of-turn token. */
function locate(messages: ChatMessage[], i: number, text: string, template: ChatTemplate, ends: TurnEnds): Omit<Span, 'promptEnd'> {
  const mark = placeholderFor(messages);
  const changed = messages.map((m, k) => (k === i ? { role: m.role, content: mark } : m));
  const other = template.render(changed, false);
  const start = commonPrefix(text, other);
  const suffix = commonSuffix(text, other, start);
  if (!other.slice(start, other.length - suffix).includes(mark)) {
    throw new ChatTemplateError(
      template.origin,
      `the template does not write the content of message ${i + 1} (assistant) into the conversation, so its tokens cannot be trained; use mask "none" or another chat template`,
    );
  }
  let from = start;
  const end = text.length - suffix;
  // The reasoning's opening tag is the model's to write even where the template writes it too.
  if (hasReasoning(messages[i]!)) {
    const open = text.lastIndexOf(THINK_OPEN, from);
    if (open >= 0 && text.slice(open + THINK_OPEN.length, from).trim() === '') from = open;
  }
  return { start: from, end: endOfTurn(text, end, ends) };
}

/**
 * The characters of each assistant turn in the conversation's rendering that the model is trained
 * to produce. Throws ChatTemplateError (naming the template) when the template raises or hides a turn.
 */
export function assistantSpans(messages: ChatMessage[], template: ChatTemplate, ends: TurnEnds): ChatSpans {
  if (template.renderGenerationMarked) return fromGenerationBlocks(template.renderGenerationMarked(messages), template.origin);
  const text = template.render(messages, false);
  const spans: Span[] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const found = locate(messages, i, text, template, ends);
    const previous = spans[spans.length - 1];
    const prompt = template.render(messages.slice(0, i), true);
    const prefixStable = text.startsWith(prompt) && prompt.length <= found.start && prompt.length >= (previous?.end ?? 0);
    const span = { ...found, promptEnd: prefixStable ? prompt.length : found.start };
    if (previous && span.start < previous.end) {
      throw new ChatTemplateError(
        template.origin,
        `message ${i + 1} (assistant) changes the rendering before the end of the previous assistant turn, so the turns cannot be told apart; use mask "none" or another chat template`,
      );
    }
    spans.push(span);
  });
  return { text, spans };
}
