// Assistant-only masks under the chat templates models ship (see test/helpers/chat-templates.ts):
// multi-turn chats with system prompts, reasoning, unicode and code.

import { describe, beforeAll, expect, it } from 'vitest';
import { loadChatTemplate, type ChatTemplate } from '../../src/data/chat-template.ts';
import { prepareDataset } from '../../src/data/prepare.ts';
import { IGNORE_INDEX, tokenizeExample, type MaskMode } from '../../src/data/tokenize.ts';
import type { ChatMessage } from '../../src/data/types.ts';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { loadTokenizer, type TextTokenizer } from '../../src/model/tokenizer.ts';
import { CONVERSATIONS, conversationsFor, TEMPLATE_CASES, templateCaseFiles, trainedRuns } from '../helpers/chat-templates.ts';

describe.each(TEMPLATE_CASES)('$name chat template', (c) => {
  let tokenizer: TextTokenizer;
  let template: ChatTemplate;
  beforeAll(async () => {
    const { tokenizerJson, tokenizerConfig } = templateCaseFiles(c);
    const files = memoryFiles(
      c.name,
      new Map([
        ['tokenizer.json', tokenizerJson],
        ['tokenizer_config.json', new TextEncoder().encode(JSON.stringify(tokenizerConfig))],
      ]),
    );
    tokenizer = await loadTokenizer(files);
    template = await loadChatTemplate(files);
  }, 60_000);

  it.each(conversationsFor(c).map((k) => [k.name, k] as const))('trains exactly each assistant message and its turn end: %s', (_name, k) => {
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
