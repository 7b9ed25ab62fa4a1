// A model's chat template (Jinja, as transformers' apply_chat_template renders it), found where
// transformers looks for it, with ChatML as a fallback the caller must show to the user.

import { Template } from '@huggingface/jinja';
import { readText, type ModelFiles } from '../formats/byte-source.ts';
import { FormatError } from '../formats/errors.ts';
import type { ChatMessage } from './types.ts';

export interface ChatTemplate {
  source: 'model' | 'chatml-fallback';
  /** Where it came from, e.g. "tokenizer_config.json"; named in every rendering error. */
  origin: string;
  render(messages: ChatMessage[], addGenerationPrompt: boolean): string;
}

/** transformers' former default template (ChatML), used when a model has none. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** A template that raised while rendering (e.g. "roles must alternate"), or that masking cannot use. */
export class ChatTemplateError extends Error {
  constructor(
    readonly origin: string,
    detail: string,
  ) {
    super(`chat template (${origin}): ${detail}`);
    this.name = 'ChatTemplateError';
  }
}

type Json = Record<string, unknown>;

/** The special tokens transformers hands to the template (its special_tokens_map), as strings. */
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token'] as const;

function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

/** Compiles `source` and wraps it so rendering errors name the template's origin. */
export function chatTemplateFrom(
  source: string,
  origin: string,
  kind: ChatTemplate['source'] = 'model',
  specialTokens: Record<string, string> = {},
): ChatTemplate {
  let compiled: Template;
  try {
    compiled = new Template(source);
  } catch (e) {
    throw new FormatError(origin, `the chat template could not be parsed (${(e as Error).message})`);
  }
  return {
    source: kind,
    origin,
    render(messages, addGenerationPrompt) {
      try {
        return compiled.render({
          // Plain copies: a template may not mutate the caller's messages.
          messages: messages.map((m) => ({ role: m.role, content: m.content })),
          add_generation_prompt: addGenerationPrompt,
          // transformers passes these as None when the caller gives none.
          tools: null,
          documents: null,
          ...specialTokens,
        });
      } catch (e) {
        throw new ChatTemplateError(origin, `rendering failed: ${(e as Error).message}`);
      }
    },
  };
}

async function readOptional(files: ModelFiles, file: string): Promise<string | null> {
  const src = await files.get(file);
  return src ? readText(src) : null;
}

/** The template chosen from tokenizer_config's "chat_template" (a string or a list of named ones). */
function pickFromConfig(value: unknown, where: string): { template: string; origin: string } | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return { template: value, origin: where };
  if (Array.isArray(value)) {
    const named = value.filter(
      (t): t is { name: string; template: string } =>
        typeof t === 'object' && t !== null && typeof (t as Json).name === 'string' && typeof (t as Json).template === 'string',
    );
    if (named.length !== value.length) throw new FormatError(where, '"chat_template" list entries must be {"name": ..., "template": ...}');
    const chosen = named.find((t) => t.name === 'default') ?? named[0];
    return chosen ? { template: chosen.template, origin: `${where} (template "${chosen.name}")` } : null;
  }
  throw new FormatError(where, '"chat_template" must be a string or a list of {"name", "template"}');
}

/**
 * The model's chat template. Like transformers, a chat_template.jinja file takes priority over the
 * "chat_template" entry of tokenizer_config.json (a string, or a list of {name, template}: "default",
 * else the first). With neither, ChatML with source 'chatml-fallback': the caller must tell the user.
 * bos_token, eos_token and the other special tokens come from tokenizer_config.json.
 */
export async function loadChatTemplate(files: ModelFiles): Promise<ChatTemplate> {
  const configName = `${files.name}/tokenizer_config.json`;
  const configText = await readOptional(files, 'tokenizer_config.json');
  let config: Json = {};
  if (configText !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(configText);
    } catch (e) {
      throw new FormatError(configName, `is not valid JSON (${(e as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new FormatError(configName, 'must hold a JSON object');
    config = parsed as Json;
  }
  const specialTokens: Record<string, string> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const text = tokenText(config[key]);
    if (text !== null) specialTokens[key] = text;
  }

  const jinja = await readOptional(files, 'chat_template.jinja');
  if (jinja !== null) return chatTemplateFrom(jinja, `${files.name}/chat_template.jinja`, 'model', specialTokens);
  const fromConfig = pickFromConfig(config.chat_template, configName);
  if (fromConfig) return chatTemplateFrom(fromConfig.template, fromConfig.origin, 'model', specialTokens);
  return chatTemplateFrom(CHATML_TEMPLATE, `built-in ChatML (${files.name} has no chat template)`, 'chatml-fallback', specialTokens);
}
