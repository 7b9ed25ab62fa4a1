import { beforeAll, describe, expect, it } from 'vitest';
import { chatTemplateFrom, ChatTemplateError, loadChatTemplate, type ChatTemplate } from '../../src/data/chat-template.ts';
import {
  ALPACA_PROMPT_NO_INPUT,
  ALPACA_PROMPT_WITH_INPUT,
  tokenizeExample,
  type MaskMode,
  type TokenizeContext,
} from '../../src/data/tokenize.ts';
import type { ChatMessage } from '../../src/data/types.ts';
import { gpt2Tokenizer, sentencePieceTokenizer, type TokenizerFixture } from './tokenizers.ts';

const ROUND_TRIP = [
  'Hello world',
  'Grüße aus Köln — naïve café, 東京タワー, Ελληνικά, עברית',
  'emoji: 😀👍🏽 family 👨‍👩‍👧 flags 🇫🇷',
  'whitespace   runs\t\ttabs  and   spaces',
  'newlines\n\nparagraph\r\nwindows\n   indented\n',
  'code: if (x) {\n    return "y";\n}',
];

const CHAT: ChatMessage[] = [
  { role: 'system', content: 'You answer briefly.' },
  { role: 'user', content: 'What is the capital of France?' },
  { role: 'assistant', content: 'Paris. 🇫🇷' },
  { role: 'user', content: 'And of Japan?\nOne word, please.' },
  { role: 'assistant', content: 'Tokyo (東京).' },
];

const IGNORE = -100;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The ids of each run of trained tokens. */
function runsOf(got: { inputIds: number[]; labels: number[] }): number[][] {
  const runs: number[][] = [];
  got.labels.forEach((l, i) => {
    if (l === IGNORE) return;
    if (i > 0 && got.labels[i - 1] !== IGNORE) runs[runs.length - 1]!.push(got.inputIds[i]!);
    else runs.push([got.inputIds[i]!]);
  });
  return runs;
}

function trainedRuns(fx: TokenizerFixture, got: { inputIds: number[]; labels: number[] }): string[] {
  return runsOf(got).map((r) => fx.tokenizer.decode(r));
}

interface Case {
  name: string;
  load: () => Promise<TokenizerFixture>;
}

const CASES: Case[] = [
  { name: 'GPT-2 byte-level BPE', load: () => gpt2Tokenizer() },
  { name: 'SentencePiece-style BPE with byte fallback', load: () => sentencePieceTokenizer() },
];

/**
 * Expected labels computed from token counts of rendered prefixes, independently of tokenize.ts
 * (these templates are prefix-stable): each assistant turn is trained from the end of the
 * generation prompt through its end-of-turn token; a separator the template writes before the
 * content (Llama 2's space, when it is a token of its own) and the newline after the turn are not.
 */
function expectedChat(fx: TokenizerFixture, template: ChatTemplate, messages: ChatMessage[], mask: MaskMode) {
  const enc = (s: string) => fx.tokenizer.encode(s, { addSpecialTokens: false });
  const ids = enc(template.render(messages, false));
  const spans: [number, number][] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const p = enc(template.render(messages.slice(0, i), true));
    const q = enc(template.render(messages.slice(0, i + 1), false).replace(/\n$/, ''));
    expect(ids.slice(0, p.length)).toEqual(p);
    expect(ids.slice(0, q.length)).toEqual(q);
    let start = p.length;
    while (start < q.length && fx.tokenizer.decode([ids[start]!]).trim() === '') start++;
    spans.push([start, q.length]);
  });
  const used = mask === 'last-turn' ? spans.slice(-1) : spans;
  const labels = ids.map((id, t) => (mask === 'none' || used.some(([a, b]) => t >= a && t < b) ? id : IGNORE));
  return { ids, labels, spans };
}

describe.each(CASES)('$name', ({ load }) => {
  let fx: TokenizerFixture;
  let template: ChatTemplate;
  const ctx = (mask: MaskMode = 'prompt'): TokenizeContext => ({ tokenizer: fx.tokenizer, template, mask });
  beforeAll(async () => {
    fx = await load();
    template = await loadChatTemplate(fx.files);
  });

  it('decodes what it encodes: unicode, emoji (byte fallback), whitespace runs, newlines', () => {
    for (const text of ROUND_TRIP) {
      const ids = fx.tokenizer.encode(text);
      expect(ids.every((id) => id < fx.tokenizer.vocabSize)).toBe(true);
      expect(fx.tokenizer.decode(ids, { skipSpecialTokens: true })).toBe(text);
    }
  });

  it.each(['prompt', 'last-turn', 'none'] as const)('masks a multi-turn chat like prefix-by-prefix rendering (mask %s)', (mask) => {
    const got = tokenizeExample({ kind: 'chat', messages: CHAT }, ctx(mask));
    const want = expectedChat(fx, template, CHAT, mask);
    expect(want.spans).toHaveLength(2);
    expect(got.inputIds).toEqual(want.ids);
    expect(got.labels).toEqual(want.labels);
    expect(fx.tokenizer.decode(got.inputIds)).toBe(template.render(CHAT, false).replace(/^ /, ''));
  });

  it('trains exactly on the assistant text and its end-of-turn marker', () => {
    const got = tokenizeExample({ kind: 'chat', messages: CHAT }, ctx('last-turn'));
    const trained = got.inputIds.filter((_, t) => got.labels[t] !== IGNORE);
    const text = fx.tokenizer.decode(trained);
    expect(text).toContain('Tokyo (東京).');
    expect(text).not.toContain('Japan');
    expect(text).not.toContain('Paris');
  });

  it('masks the prompt of a completion as TRL does, and ends it with EOS', () => {
    const prompt = 'Translate to French: cheese =>';
    const completion = ' fromage';
    const got = tokenizeExample({ kind: 'completion', prompt, completion }, ctx());
    const p = fx.tokenizer.encode(prompt);
    const eos = fx.tokenizer.eosTokenIds[0]!;
    expect(got.inputIds).toEqual([...fx.tokenizer.encode(prompt + completion), eos]);
    expect(got.labels).toEqual(got.inputIds.map((id, t) => (t < p.length ? IGNORE : id)));
    expect(got.labels.filter((l) => l !== IGNORE).length).toBeGreaterThan(1);
    expect(tokenizeExample({ kind: 'completion', prompt, completion }, ctx('none')).labels).toEqual(got.inputIds);
  });

  it('fills the Alpaca prompts and trains on the output', () => {
    const withInput = { kind: 'alpaca' as const, instruction: 'Add the numbers.', input: '2 and 3', output: '5' };
    const prompt = ALPACA_PROMPT_WITH_INPUT.replace('{instruction}', 'Add the numbers.').replace('{input}', '2 and 3');
    expect(prompt).toBe(
      'Below is an instruction that describes a task, paired with an input that provides further context. ' +
        'Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n### Response:',
    );
    const got = tokenizeExample(withInput, ctx());
    const want = tokenizeExample({ kind: 'completion', prompt, completion: '5' }, ctx());
    expect(got).toEqual(want);
    const noInput = tokenizeExample({ ...withInput, input: '' }, ctx());
    const prompt2 = ALPACA_PROMPT_NO_INPUT.replace('{instruction}', 'Add the numbers.');
    expect(noInput).toEqual(tokenizeExample({ kind: 'completion', prompt: prompt2, completion: '5' }, ctx()));
    const p = fx.tokenizer.encode(prompt2).length;
    expect(noInput.labels.slice(0, p).every((l) => l === IGNORE)).toBe(true);
    expect(noInput.labels.slice(p).every((l) => l !== IGNORE)).toBe(true);
    // User text with "$&" stays literal.
    const dollar = tokenizeExample({ ...withInput, instruction: 'Say $& and $1' }, ctx());
    expect(fx.tokenizer.decode(dollar.inputIds)).toContain('Say $& and $1');
  });

  it('ends a text example with EOS, once', () => {
    const eos = fx.tokenizer.eosTokenIds[0]!;
    const got = tokenizeExample({ kind: 'text', text: 'Hello world' }, ctx());
    expect(got.inputIds).toEqual([...fx.tokenizer.encode('Hello world'), eos]);
    expect(got.labels).toEqual(got.inputIds);
    const eosText = fx.tokenizer.decode([eos]);
    const already = tokenizeExample({ kind: 'text', text: `Hello world${eosText}` }, ctx());
    expect(already.inputIds).toEqual(got.inputIds);
  });

  it('rejects a template that raises, and masks one that is not prefix-stable', () => {
    const bad: ChatMessage[] = [
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b' },
      { role: 'assistant', content: 'c' },
    ];
    if (template.origin.includes('tiny-sp')) {
      expect(() => tokenizeExample({ kind: 'chat', messages: bad }, ctx())).toThrow(/tiny-sp\/tokenizer_config\.json.*roles must alternate/);
    }
    // Renders the last assistant turn differently from earlier ones (as Qwen3's thinking blocks do).
    const unstable = chatTemplateFrom(
      "{% for m in messages %}{% if m.role == 'assistant' and loop.last %}<think></think>{% endif %}{{ m.role }}: {{ m.content }}\n{% endfor %}",
      'unstable.jinja',
    );
    const c = { tokenizer: fx.tokenizer, template: unstable, mask: 'prompt' as const };
    const got = tokenizeExample({ kind: 'chat', messages: CHAT }, c);
    expect(fx.tokenizer.decode(got.inputIds)).toBe(unstable.render(CHAT, false).replace(/^ /, ''));
    // The injected <think></think> is not trained; both answers are, and nothing else.
    // (GPT-2 writes " Paris" as one token: the space the template writes before it is trained with it.)
    expect(trainedRuns(fx, got).map((r) => r.trim())).toEqual(['Paris. 🇫🇷', 'Tokyo (東京).']);
    // A template that leaves an assistant turn out cannot be masked, and says so.
    const hiding = chatTemplateFrom("{% for m in messages %}{% if m.role != 'assistant' %}{{ m.content }}{% endif %}{% endfor %}", 'hiding.jinja');
    expect(() => tokenizeExample({ kind: 'chat', messages: CHAT }, { ...c, template: hiding })).toThrow(ChatTemplateError);
    expect(() => tokenizeExample({ kind: 'chat', messages: CHAT }, { ...c, template: hiding })).toThrow(/hiding\.jinja.*does not write the content of message 3/);
    expect(() => tokenizeExample({ kind: 'chat', messages: CHAT }, { ...c, template: hiding, mask: 'none' })).not.toThrow();
  });

  it('splits at turn boundaries when a token would straddle one', () => {
    // The generation prompt ends with a space that the whole rendering merges into the answer's
    // first token: the turn is then tokenized as its own segment, as a model generating it would.
    const t = chatTemplateFrom(
      "{% for m in messages %}{% if m.role == 'user' %}{{ 'User: ' + m.content + '\\n' }}{% else %}{{ 'Assistant: ' + m.content + eos_token + '\\n' }}{% endif %}{% endfor %}" +
        "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}",
      'plain.jinja',
      'model',
      { eos_token: fx.tokenizer.decode([fx.tokenizer.eosTokenIds[0]!]) },
    );
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Hello world' },
      { role: 'assistant', content: 'Hello there' },
      { role: 'user', content: 'What is the capital of France?' },
      { role: 'assistant', content: 'Paris' },
    ];
    const full = t.render(messages, false);
    const got = tokenizeExample({ kind: 'chat', messages }, { tokenizer: fx.tokenizer, template: t, mask: 'prompt' });
    const enc = (s: string) => fx.tokenizer.encode(s, { addSpecialTokens: false });
    expect(got.inputIds).not.toEqual(enc(full));
    // No text is added or lost at the cuts.
    expect(fx.tokenizer.decode(got.inputIds)).toBe(full);
    const p1 = t.render(messages.slice(0, 1), true);
    expect(got.inputIds.slice(0, enc(p1).length)).toEqual(enc(p1));
    // Trained runs decode to exactly the two answers with their end marker.
    const eosText = fx.tokenizer.decode([fx.tokenizer.eosTokenIds[0]!]);
    expect(trainedRuns(fx, got)).toEqual([`Hello there${eosText}`, `Paris${eosText}`]);
    // A segment inside the text gets no word-start marker ("▁") of its own.
    for (const r of runsOf(got)) expect(fx.tokenOf(r[0]!).startsWith('▁')).toBe(false);
  });

  it('passes pre-tokenized rows through and checks every id against the vocabulary', () => {
    const V = fx.tokenizer.vocabSize;
    expect(tokenizeExample({ kind: 'tokens', inputIds: [1, 2, 3] }, ctx())).toEqual({ inputIds: [1, 2, 3], labels: [1, 2, 3] });
    expect(tokenizeExample({ kind: 'tokens', inputIds: [1, 2, 3], labels: [-100, 2, 3] }, ctx()).labels).toEqual([-100, 2, 3]);
    expect(() => tokenizeExample({ kind: 'tokens', inputIds: [1, V] }, ctx())).toThrow(`input_ids[1] = ${V} is outside the vocabulary (0 .. ${V - 1})`);
    expect(() => tokenizeExample({ kind: 'tokens', inputIds: [1, 2], labels: [1] }, ctx())).toThrow(/labels has 1 entries but input_ids has 2/);
    expect(() => tokenizeExample({ kind: 'tokens', inputIds: [1, 2], labels: [1, -1] }, ctx())).toThrow(/labels\[1\] = -1/);
  });

  it('gives every produced id a place in the vocabulary', () => {
    for (const mask of ['prompt', 'none'] as const) {
      const r = tokenizeExample({ kind: 'chat', messages: CHAT }, ctx(mask));
      expect(Math.max(...r.inputIds)).toBeLessThan(fx.tokenizer.vocabSize);
      expect(range(r.inputIds.length).every((t) => r.labels[t] === IGNORE || r.labels[t] === r.inputIds[t])).toBe(true);
    }
  });
});

describe('GPT-2 fixture', () => {
  it('encodes "Hello world" to GPT-2 ids and knows its ChatML tokens', async () => {
    const fx = await gpt2Tokenizer();
    expect(fx.tokenizer.encode('Hello world')).toEqual([15496, 995]);
    expect(fx.tokenizer.encode('<|im_start|>user<|im_end|><|endoftext|>')).toEqual([50257, 7220, 50258, 50256]);
    expect(fx.tokenizer.vocabSize).toBe(50259);
  });

  it('masks a chat without a system message (the template adds one)', async () => {
    const fx = await gpt2Tokenizer();
    const template = await loadChatTemplate(fx.files);
    const messages = CHAT.slice(1);
    const got = tokenizeExample({ kind: 'chat', messages }, { tokenizer: fx.tokenizer, template, mask: 'prompt' });
    expect(got).toEqual((({ ids, labels }) => ({ inputIds: ids, labels }))(expectedChat(fx, template, messages, 'prompt')));
    expect(fx.tokenizer.decode(got.inputIds)).toContain('You are a helpful assistant.');
  });

  it('splits a turn whose leading newlines merge with the generation prompt', async () => {
    const fx = await gpt2Tokenizer();
    const template = await loadChatTemplate(fx.files);
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Show me.' },
      { role: 'assistant', content: '\n\nIndented answer' },
    ];
    const got = tokenizeExample({ kind: 'chat', messages }, { tokenizer: fx.tokenizer, template, mask: 'prompt' });
    const full = template.render(messages, false);
    const p = template.render(messages.slice(0, 1), true);
    const enc = (s: string) => fx.tokenizer.encode(s, { addSpecialTokens: false });
    const segs = [enc(p), enc(full.slice(p.length))];
    expect(got.inputIds).toEqual(segs.flat());
    // Trained: the answer and <|im_end|>, not the newline after it.
    expect(got.labels).toEqual([...segs[0]!.map(() => IGNORE), ...segs[1]!.slice(0, -1), IGNORE]);
    expect(fx.tokenizer.decode(got.inputIds)).toBe(full);
  });
});
