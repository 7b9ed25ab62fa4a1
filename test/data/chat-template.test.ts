import { describe, expect, it } from 'vitest';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { FormatError } from '../../src/formats/errors.ts';
import { CHATML_TEMPLATE, ChatTemplateError, loadChatTemplate } from '../../src/data/chat-template.ts';
import type { ChatMessage } from '../../src/data/types.ts';

const enc = new TextEncoder();

function files(entries: Record<string, unknown>) {
  return memoryFiles(
    'my-model',
    new Map(Object.entries(entries).map(([k, v]) => [k, enc.encode(typeof v === 'string' ? v : JSON.stringify(v))])),
  );
}

const convo: ChatMessage[] = [
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello!' },
];

describe('loadChatTemplate', () => {
  it('reads tokenizer_config.json with bos/eos tokens given as strings or AddedToken objects', async () => {
    const t = await loadChatTemplate(
      files({
        'tokenizer_config.json': {
          bos_token: '<s>',
          eos_token: { content: '</s>', lstrip: false, rstrip: false, __type: 'AddedToken' },
          chat_template: "{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}",
        },
      }),
    );
    expect(t.source).toBe('model');
    expect(t.origin).toBe('my-model/tokenizer_config.json');
    expect(t.render(convo, false)).toBe('<s>user: Hi</s>assistant: Hello!</s>');
    expect(t.render(convo.slice(0, 1), true)).toBe('<s>user: Hi</s>assistant:');
  });

  it('takes "default" from a list of named templates, else the first', async () => {
    const list = [
      { name: 'tool_use', template: 'TOOLS{{ messages[0].content }}' },
      { name: 'default', template: 'DEFAULT{{ messages[0].content }}' },
    ];
    const t = await loadChatTemplate(files({ 'tokenizer_config.json': { chat_template: list } }));
    expect(t.render(convo, false)).toBe('DEFAULTHi');
    expect(t.origin).toContain('template "default"');
    const first = await loadChatTemplate(files({ 'tokenizer_config.json': { chat_template: [list[0], { name: 'rag', template: 'R' }] } }));
    expect(first.render(convo, false)).toBe('TOOLSHi');
    expect(first.origin).toContain('template "tool_use"');
  });

  it('reads chat_template.jinja, which takes priority over tokenizer_config as in transformers', async () => {
    const only = await loadChatTemplate(files({ 'chat_template.jinja': 'J{{ messages | length }}', 'tokenizer_config.json': { eos_token: '</s>' } }));
    expect(only.origin).toBe('my-model/chat_template.jinja');
    expect(only.render(convo, false)).toBe('J2');
    const both = await loadChatTemplate(files({ 'chat_template.jinja': 'J', 'tokenizer_config.json': { chat_template: 'C' } }));
    expect(both.render(convo, false)).toBe('J');
  });

  it('falls back to ChatML and says so', async () => {
    for (const f of [files({ 'tokenizer_config.json': { eos_token: '</s>' } }), files({})]) {
      const t = await loadChatTemplate(f);
      expect(t.source).toBe('chatml-fallback');
      expect(t.origin).toMatch(/ChatML.*my-model has no chat template/);
      expect(t.render(convo, true)).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>assistant\n');
    }
    expect(CHATML_TEMPLATE).toContain('<|im_start|>');
  });

  it('reports a template that raises with its origin and message', async () => {
    const t = await loadChatTemplate(
      files({
        'tokenizer_config.json': {
          chat_template: "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m.content }}{% endfor %}",
        },
      }),
    );
    expect(t.render(convo, false)).toBe('HiHello!');
    const fn = () => t.render([{ role: 'system', content: 'x' }, ...convo], false);
    expect(fn).toThrow(ChatTemplateError);
    expect(fn).toThrow(/my-model\/tokenizer_config\.json.*System role not supported/);
  });

  it('rejects an unparsable template or a malformed config at load', async () => {
    await expect(loadChatTemplate(files({ 'tokenizer_config.json': { chat_template: '{% for %}' } }))).rejects.toThrow(FormatError);
    await expect(loadChatTemplate(files({ 'tokenizer_config.json': '{oops' }))).rejects.toThrow(/tokenizer_config\.json: is not valid JSON/);
    await expect(loadChatTemplate(files({ 'tokenizer_config.json': { chat_template: 5 } }))).rejects.toThrow(/must be a string or a list/);
  });
});
