// The playground's generation through the real worker handler (Dawn in Node) on the bundled demo
// model: progress replies stream the text as it grows, and chat mode renders the prompt through the
// model's chat template (or ChatML, said in a progress message, when the model has none).

import 'fake-indexeddb/auto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadChatTemplate } from '../../src/data/chat-template.ts';
import { droppedFiles } from '../../src/formats/browser-files.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import type { FinalReply, GenerateRequest, GenerateResult, ProgressReply } from '../../src/protocol/messages.ts';
import { createHandler, type Handler } from '../../src/worker/handler.ts';

const MODEL_DIR = join(import.meta.dirname, '..', '..', 'public', 'models', 'kjv-llama');
const PROMPT = 'Question: The LORD is my shepherd;\nAnswer:';
const demoFiles = () => readdirSync(MODEL_DIR).map((f) => new File([new Uint8Array(readFileSync(join(MODEL_DIR, f)))], f));

let nextId = 1;
const handlers: Handler[] = [];

async function call<T>(h: Handler, body: object, onProgress?: (p: ProgressReply) => void): Promise<T> {
  const reply: FinalReply = await h.handle({ ...body, id: nextId++ } as GenerateRequest, onProgress);
  if (reply.type === 'error') throw new Error(`${reply.name}: ${reply.message}`);
  return reply.value as T;
}

async function handler(files: File[]): Promise<Handler> {
  const h = createHandler({ openGpu: (o) => createNodeGpu(o) });
  handlers.push(h);
  await call(h, { kind: 'loadModel', source: { kind: 'files', files } });
  return h;
}

async function generate(h: Handler, body: Omit<GenerateRequest, 'kind' | 'id'>): Promise<{ result: GenerateResult; progress: ProgressReply[] }> {
  const progress: ProgressReply[] = [];
  const result = await call<GenerateResult>(h, { kind: 'generate', ...body }, (p) => progress.push(p));
  return { result, progress };
}

afterAll(async () => {
  for (const h of handlers) await h.dispose();
});

describe('playground generation', () => {
  it('streams the text so far in progress replies, ending with the final text', async () => {
    const h = await handler(demoFiles());
    for (const temperature of [0, 0.8]) {
      const { result, progress } = await generate(h, { prompt: PROMPT, maxNewTokens: 16, temperature, topP: 0.9, seed: 3 });
      expect(result.text.length).toBeGreaterThan(0);
      const partials = progress.map((p) => p.partialText).filter((t): t is string => t !== undefined);
      // One reply per token (a last one only if the end was cut inside a character).
      expect(partials.length).toBeGreaterThanOrEqual(result.tokens.length);
      expect(progress.every((p) => p.kind === 'generate' && p.type === 'progress')).toBe(true);
      for (let i = 1; i < partials.length; i++) expect(partials[i]!.startsWith(partials[i - 1]!)).toBe(true);
      expect(partials.at(-1)).toBe(result.text);
      expect(new Set(partials).size).toBeGreaterThan(1);
    }
  }, 300_000);

  it('chat mode renders the prompt as a user turn through the model template, with the generation prompt', async () => {
    const files = demoFiles();
    const h = await handler(files);
    const plain = await generate(h, { prompt: PROMPT, maxNewTokens: 4 });
    const chat = await generate(h, { prompt: PROMPT, maxNewTokens: 4, chat: true });
    expect(chat.result.promptTokens).not.toEqual(plain.result.promptTokens);

    const modelFiles = droppedFiles(files);
    const template = await loadChatTemplate(modelFiles);
    expect(template.source).toBe('model');
    const tok = await loadTokenizer(modelFiles);
    const rendered = template.render([{ role: 'user', content: PROMPT }], true);
    const at = rendered.indexOf(PROMPT);
    const head = tok.encode(rendered.slice(0, at), { addSpecialTokens: false });
    const tail = tok.encode(rendered.slice(at + PROMPT.length), { addSpecialTokens: false });
    expect(head.length).toBeGreaterThan(0);
    expect(chat.result.promptTokens.slice(0, head.length)).toEqual(head);
    // Ends with the generation prompt, so the model answers as the assistant.
    expect(chat.result.promptTokens.slice(-tail.length)).toEqual(tail);
    expect(tok.decode(tail)).toContain('assistant');
    expect(chat.progress.some((p) => p.message.includes('no chat template'))).toBe(false);
  }, 300_000);

  it('chat mode falls back to ChatML and says so when the model has no template', async () => {
    const files = demoFiles().map((f) => {
      if (f.name !== 'tokenizer_config.json') return f;
      const cfg = JSON.parse(readFileSync(join(MODEL_DIR, f.name), 'utf8')) as Record<string, unknown>;
      delete cfg.chat_template;
      return new File([JSON.stringify(cfg)], f.name);
    });
    const h = await handler(files);
    const { result, progress } = await generate(h, { prompt: 'In the beginning', maxNewTokens: 2, chat: true });
    expect(progress.some((p) => /no chat template.*ChatML/.test(p.message))).toBe(true);
    const tok = await loadTokenizer(droppedFiles(files));
    expect(result.promptTokens).toEqual(tok.encode('<|im_start|>user\nIn the beginning<|im_end|>\n<|im_start|>assistant\n', { addSpecialTokens: false }));
  }, 300_000);
});
