// The playground's requests on the loaded model: `generate` (streamed text, with the adapter in use
// or the base model alone, a raw or a chat prompt) and `evaluate` (the loss of given rows).

import { loadChatTemplate } from '../data/chat-template.ts';
import { encodeChat } from '../data/tokenize.ts';
import { evaluate as evaluateRows } from '../model/evaluate.ts';
import { generateTokens } from '../model/generate.ts';
import type { EvaluateRequest, EvaluateResult, GenerateRequest, GenerateResult } from '../protocol/messages.ts';
import { type EngineContext, type Loaded, needModel, type Progress } from './context.ts';

export async function generate(ctx: EngineContext, req: GenerateRequest, progress: Progress): Promise<GenerateResult> {
  const loaded = needModel(ctx);
  const { model } = loaded;
  model.lora = req.useAdapter === false ? null : (ctx.adapter?.lora ?? null);
  const promptTokens = req.chat ? await chatPrompt(loaded, req.prompt, progress) : model.tokenizer.encode(req.prompt);
  const start = performance.now();
  const sofar: number[] = [];
  let sent = '';
  const tokens = await generateTokens(model, promptTokens, {
    maxNewTokens: req.maxNewTokens,
    temperature: req.temperature,
    topP: req.topP,
    seed: req.seed,
    onToken: (id) => {
      sofar.push(id);
      // A character whose bytes span several tokens decodes to U+FFFD until its last byte comes;
      // holding it back keeps each partial text a prefix of the next.
      sent = model.tokenizer.decode(sofar, { skipSpecialTokens: true }).replace(/\uFFFD+$/, '');
      progress(`generating: ${sofar.length} tokens, ${Math.round(performance.now() - start)} ms`, undefined, undefined, sent);
    },
  });
  const seconds = (performance.now() - start) / 1000;
  const text = model.tokenizer.decode(tokens, { skipSpecialTokens: true });
  // Generation cut off inside a character: the held-back U+FFFD is part of the result after all.
  if (text !== sent) progress(`generated ${tokens.length} tokens`, undefined, undefined, text);
  return { text, tokens, promptTokens, tokensPerSecond: tokens.length / Math.max(seconds, 1e-9) };
}

/** The prompt as one user turn through the model's chat template, ready for the assistant's answer. */
async function chatPrompt({ model, files }: Loaded, prompt: string, progress: Progress): Promise<number[]> {
  const template = await loadChatTemplate(files);
  if (template.source === 'chatml-fallback') progress(`warning: the model has no chat template, so the prompt is formatted with ChatML (${template.origin})`);
  return encodeChat([{ role: 'user', content: prompt }], template, model.tokenizer, true);
}

export function evaluate(ctx: EngineContext, req: EvaluateRequest): Promise<EvaluateResult> {
  return evaluateRows(needModel(ctx).model, req.rows, { batchSize: req.batchSize });
}
