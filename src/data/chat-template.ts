// A model's chat template (Jinja, as transformers' apply_chat_template renders it), found where
// transformers looks for it, with ChatML as a fallback the caller must show to the user.

import { Template } from '@huggingface/jinja';
import { readText, type ModelFiles } from '../formats/byte-source.ts';
import { FormatError } from '../formats/errors.ts';
import { patchJinjaForPythonParity } from './jinja-compat.ts';
import type { ChatMessage } from './types.ts';

export interface ChatTemplate {
  source: 'model' | 'chatml-fallback';
  /** Where it came from, e.g. "tokenizer_config.json"; named in every rendering error. */
  origin: string;
  render(messages: ChatMessage[], addGenerationPrompt: boolean): string;
  /**
   * Present when the template marks what a model generates with {% generation %} ... {% endgeneration %}
   * (as TRL's assistant-only loss reads it): the rendering with each block's text wrapped in
   * GENERATION_OPEN ... GENERATION_CLOSE, otherwise identical to render(messages, false).
   */
  renderGenerationMarked?(messages: ChatMessage[]): string;
}

/** Unicode noncharacters (reserved for a program's internal use): never in text users write. */
export const GENERATION_OPEN = '\uFDD0';
export const GENERATION_CLOSE = '\uFDD1';

const GENERATION_TAG = /\{%(-?)\s*(end)?generation\s*(-?)%\}/g;

/**
 * The template with each generation tag replaced by a block that writes a marker. A block tag (not
 * an expression) keeps the original's whitespace handling: trim_blocks / lstrip_blocks and "-".
 */
function withGenerationMarkers(source: string): string | null {
  if (!source.match(GENERATION_TAG)) return null;
  return source.replace(GENERATION_TAG, (_all, left: string, end: string | undefined, right: string) => {
    const marker = end ? GENERATION_CLOSE : GENERATION_OPEN;
    return `{%${left} if true %}{{ '${marker}' }}{% endif ${right}%}`;
  });
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

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
/** The date templates get for "today": Llama 3.x's own default (26 July 2024, a Friday). */
const TEMPLATE_DATE = { year: 2024, month: 7, day: 26, weekday: 5 };

/**
 * transformers' strftime_now, on a fixed date: templates that print today's date (Llama 3.2,
 * SmolLM3) give the same rows on every run, which resuming a run relies on; the date is never trained.
 */
const FIXED_STRFTIME = 'tabtune_strftime_now';

function strftimeFixed(format: unknown): string {
  const d = TEMPLATE_DATE;
  const two = (n: number) => String(n).padStart(2, '0');
  const fields: Record<string, string> = {
    d: two(d.day), m: two(d.month), Y: String(d.year), y: two(d.year % 100),
    B: MONTHS[d.month - 1]!, b: MONTHS[d.month - 1]!.slice(0, 3), A: DAYS[d.weekday]!, a: DAYS[d.weekday]!.slice(0, 3),
    H: '00', M: '00', S: '00', '%': '%',
  };
  return String(format).replace(/%(.)/g, (all, f: string) => fields[f] ?? all);
}

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
  patchJinjaForPythonParity();
  const compile = (text: string): Template => {
    try {
      return new Template(text);
    } catch (e) {
      throw new FormatError(origin, `the chat template could not be parsed (${(e as Error).message})`);
    }
  };
  // @huggingface/jinja defines strftime_now itself (today's date); the template calls ours instead.
  const fixedDate = source.replace(/\bstrftime_now\b/g, FIXED_STRFTIME);
  const compiled = compile(fixedDate);
  const markedSource = withGenerationMarkers(fixedDate);
  const marked = markedSource === null ? null : compile(markedSource);
  const run = (template: Template, messages: ChatMessage[], addGenerationPrompt: boolean): string => {
    try {
      return template.render({
        // Plain copies: a template may not mutate the caller's messages.
        messages: messages.map((m) => ({ role: m.role, content: m.content, ...(m.reasoning !== undefined ? { reasoning_content: m.reasoning } : {}) })),
        add_generation_prompt: addGenerationPrompt,
        // transformers passes these as None when the caller gives none.
        tools: null,
        documents: null,
        [FIXED_STRFTIME]: strftimeFixed,
        ...specialTokens,
      });
    } catch (e) {
      throw new ChatTemplateError(origin, `rendering failed: ${(e as Error).message}`);
    }
  };
  return {
    source: kind,
    origin,
    render: (messages, addGenerationPrompt) => run(compiled, messages, addGenerationPrompt),
    ...(marked ? { renderGenerationMarked: (messages: ChatMessage[]) => run(marked, messages, false) } : {}),
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
