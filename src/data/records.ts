// Whatever the container, a row ends up as a plain record; this is where it is checked against the
// dataset's shape and becomes an Example, or a message that tells the user what to fix in the row.

import { jsonMessage } from './json-locate.ts';
import type { ChatMessage, ChatRole, DatasetFormat, Example } from './types.ts';

/** The shape of a record, from its keys; null when none fits. */
export function detectFormat(record: Record<string, unknown>): DatasetFormat | null {
  const has = (k: string) => Object.hasOwn(record, k) && record[k] !== undefined;
  if (has('messages') || has('conversations')) return 'chat';
  if (has('prompt') && has('completion')) return 'completion';
  if (has('instruction') && has('output')) return 'alpaca';
  if (has('input_ids')) return 'tokens';
  if (has('text')) return 'text';
  return null;
}

export const FORMAT_NAME: Record<DatasetFormat, string> = {
  text: 'text',
  completion: 'completion',
  chat: 'chat',
  alpaca: 'Alpaca',
  tokens: 'pre-tokenized',
};

export const NEEDS: Record<DatasetFormat, string> = {
  text: 'text',
  completion: 'prompt and completion',
  chat: 'messages',
  alpaca: 'instruction and output (input optional)',
  tokens: 'input_ids (labels optional)',
};

const ANY_SHAPE = 'a row needs text, or prompt and completion, or messages, or instruction and output, or input_ids';

// Records -> examples. Each returns the example, or a string saying what is wrong with the row.

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function keysPhrase(r: Record<string, unknown>): string {
  const keys = Object.keys(r);
  if (keys.length === 0) return 'no keys';
  const shown = keys.slice(0, 12).join(', ');
  return `keys ${shown}${keys.length > 12 ? `, ... (${keys.length} in all)` : ''}`;
}

export function hasRequired(r: Record<string, unknown>, f: DatasetFormat): boolean {
  const has = (k: string) => Object.hasOwn(r, k) && r[k] !== undefined;
  switch (f) {
    case 'text':
      return has('text');
    case 'completion':
      return has('prompt') && has('completion');
    case 'chat':
      return has('messages') || has('conversations');
    case 'alpaca':
      return has('instruction') && has('output');
    case 'tokens':
      return has('input_ids');
  }
}

export function toExample(value: unknown, format: DatasetFormat | null, cells: boolean): Example | string {
  if (!isObject(value)) return `is ${typeName(value)}, not an object; ${ANY_SHAPE}`;
  const f = format ?? detectFormat(value);
  if (f === null) return `has ${keysPhrase(value)}; ${ANY_SHAPE}`;
  if (!hasRequired(value, f)) {
    return `has ${keysPhrase(value)}; this file is ${FORMAT_NAME[f]} data: each row needs ${NEEDS[f]}`;
  }
  switch (f) {
    case 'text': {
      const text = str(value, 'text', true);
      return text.problem || { kind: 'text', text: text.value };
    }
    case 'completion': {
      const prompt = str(value, 'prompt', false);
      if (prompt.problem) return prompt.problem;
      const completion = str(value, 'completion', true);
      if (completion.problem) return completion.problem;
      return { kind: 'completion', prompt: prompt.value, completion: completion.value };
    }
    case 'alpaca': {
      const instruction = str(value, 'instruction', true);
      if (instruction.problem) return instruction.problem;
      const input = value.input === undefined || value.input === null ? { value: '', problem: '' } : str(value, 'input', false);
      if (input.problem) return input.problem;
      const output = str(value, 'output', true);
      if (output.problem) return output.problem;
      return { kind: 'alpaca', instruction: instruction.value, input: input.value, output: output.value };
    }
    case 'chat':
      return chatExample(value, cells);
    case 'tokens':
      return tokensExample(value, cells);
  }
}

interface Str {
  value: string;
  /** Empty when the field is fine. */
  problem: string;
}

/** A string field; `required` ones must not be empty. */
function str(r: Record<string, unknown>, key: string, required: boolean): Str {
  const v = r[key];
  if (typeof v !== 'string') return { value: '', problem: `"${key}" must be a string, got ${typeName(v)}` };
  if (required && v.trim() === '') return { value: '', problem: `"${key}" is empty` };
  return { value: v, problem: '' };
}

const ROLES: Record<string, ChatRole> = {
  system: 'system',
  user: 'user',
  assistant: 'assistant',
  human: 'user', // ShareGPT
  gpt: 'assistant', // ShareGPT
};

/** A CSV cell holding a JSON list; other values pass through. */
function cellJson(v: unknown, key: string, cells: boolean): { value: unknown; problem: string } {
  if (!cells || typeof v !== 'string') return { value: v, problem: '' };
  if (v.trim() === '') return { value: undefined, problem: '' };
  try {
    return { value: JSON.parse(v), problem: '' };
  } catch (e) {
    return { value: undefined, problem: `the "${key}" column must hold a JSON list (${jsonMessage(e, v)})` };
  }
}

function chatExample(r: Record<string, unknown>, cells: boolean): Example | string {
  const key = r.messages !== undefined ? 'messages' : 'conversations';
  const list = cellJson(r[key], key, cells);
  if (list.problem) return list.problem;
  const raw = list.value;
  if (!Array.isArray(raw)) return `"${key}" must be a list of {"role", "content"} messages, got ${typeName(raw)}`;
  if (raw.length === 0) return `"${key}" is empty`;
  const messages: ChatMessage[] = [];
  for (let i = 0; i < raw.length; i++) {
    const m: unknown = raw[i];
    const n = i + 1;
    if (!isObject(m)) return `message ${n} is ${typeName(m)}, not a {"role", "content"} object`;
    const roleRaw = m.role ?? m.from;
    if (roleRaw === undefined || roleRaw === null) return `message ${n} has no role`;
    const role = typeof roleRaw === 'string' && Object.hasOwn(ROLES, roleRaw) ? ROLES[roleRaw] : undefined;
    if (role === undefined) {
      return `message ${n} has unknown role ${JSON.stringify(roleRaw)}; roles are system, user, assistant (ShareGPT: human, gpt)`;
    }
    const content = messageContent(m.content ?? m.value);
    if (content === null) return `message ${n} (${role}) has no content`;
    if (typeof content !== 'string') return `message ${n} (${role}) content must be a string, got ${content.got}`;
    if (content.trim() === '') return `message ${n} (${role}) has empty content`;
    const reasoning = m.reasoning_content;
    if (reasoning === undefined || reasoning === null) messages.push({ role, content });
    else if (role !== 'assistant') return `message ${n} (${role}) has "reasoning_content"; only assistant messages carry reasoning`;
    else if (typeof reasoning !== 'string') return `message ${n} (assistant) "reasoning_content" must be a string, got ${typeName(reasoning)}`;
    else messages.push({ role, content, reasoning });
  }
  if (!messages.some((m) => m.role === 'assistant')) {
    return `"${key}" has no assistant message; chat training needs at least one assistant turn`;
  }
  return { kind: 'chat', messages };
}

/** Message content: a string, or OpenAI-style text parts [{type: "text", text}] joined. */
function messageContent(v: unknown): string | null | { got: string } {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.length > 0) {
    const texts = v.map((p: unknown) => (isObject(p) && p.type === 'text' && typeof p.text === 'string' ? p.text : null));
    if (texts.every((t) => t !== null)) return texts.join('');
    return { got: 'a list with non-text parts (only text is trained on)' };
  }
  return { got: typeName(v) };
}

function tokensExample(r: Record<string, unknown>, cells: boolean): Example | string {
  const ids = cellJson(r.input_ids, 'input_ids', cells);
  if (ids.problem) return ids.problem;
  const inputIds = ids.value;
  if (!Array.isArray(inputIds)) return `"input_ids" must be a list of token ids, got ${typeName(inputIds)}`;
  if (inputIds.length === 0) return '"input_ids" is empty';
  for (let i = 0; i < inputIds.length; i++) {
    const t: unknown = inputIds[i];
    if (!Number.isInteger(t) || (t as number) < 0) {
      return `"input_ids"[${i}] is ${JSON.stringify(t)}; token ids must be non-negative integers`;
    }
  }
  const lab = cellJson(r.labels, 'labels', cells);
  if (lab.problem) return lab.problem;
  const labels = lab.value;
  const example: Example & { kind: 'tokens' } = { kind: 'tokens', inputIds: inputIds as number[] };
  if (labels !== undefined && labels !== null) {
    if (!Array.isArray(labels)) return `"labels" must be a list of token ids (-100 = ignored), got ${typeName(labels)}`;
    if (labels.length !== inputIds.length) {
      return `"labels" has ${labels.length} entries but "input_ids" has ${inputIds.length}; they must be the same length`;
    }
    for (let i = 0; i < labels.length; i++) {
      const t: unknown = labels[i];
      if (!Number.isInteger(t) || ((t as number) < 0 && t !== -100)) {
        return `"labels"[${i}] is ${JSON.stringify(t)}; labels must be token ids or -100 (ignored)`;
      }
    }
    example.labels = labels as number[];
  }
  const pos = cellJson(r.position_ids, 'position_ids', cells);
  if (pos.problem) return pos.problem;
  if (pos.value !== undefined && pos.value !== null) {
    const p = pos.value;
    if (!Array.isArray(p) || p.length !== inputIds.length) {
      return `"position_ids" must be a list with one position per input id (${inputIds.length}), got ${Array.isArray(p) ? `${p.length} entries` : typeName(p)}`;
    }
    const bad = p.findIndex((x: unknown, t) => !(x === 0 || x === (t > 0 ? (p[t - 1] as number) + 1 : -1)));
    if (bad >= 0) {
      return `"position_ids"[${bad}] is ${JSON.stringify(p[bad])}; positions start at 0, count up by one, and restart at 0 where a packed document starts`;
    }
    example.positionIds = p as number[];
  }
  const mask = cellJson(r.attention_mask, 'attention_mask', cells);
  if (mask.problem) return mask.problem;
  if (mask.value !== undefined && mask.value !== null) {
    const m = mask.value;
    if (!Array.isArray(m) || m.length !== inputIds.length || m.some((x: unknown) => x !== 1)) {
      return `"attention_mask" must be all 1s, one per input id: rows are read without padding (remove padded positions, or the attention_mask column)`;
    }
  }
  return example;
}
