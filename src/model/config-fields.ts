// Readers of config.json fields shared by every architecture's parser: each checks its type and range
// and throws a FormatError naming the file and the field (with its path, e.g. "text_config"."vocab_size").

import { FormatError } from '../formats/errors.ts';
import type { RopeScaling } from './config.ts';

export type Json = Record<string, unknown>;

export function int(file: string, obj: Json, key: string, fallback?: number, label = `"${key}"`): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new FormatError(file, `field ${label} is missing; a causal LM config needs it`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new FormatError(file, `field ${label} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function num(file: string, obj: Json, key: string, fallback: number, positive = false, label = `"${key}"`): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new FormatError(file, `field ${label} must be a number, got ${JSON.stringify(v)}`);
  }
  if (positive && !(v > 0)) throw new FormatError(file, `field ${label} must be a positive number, got ${v}`);
  return v;
}

/** A positive number, or null when the field is absent or null (e.g. Gemma's softcaps). */
export function optionalPositive(file: string, obj: Json, key: string, label = `"${key}"`): number | null {
  const v = obj[key];
  if (v === undefined || v === null) return null;
  return num(file, obj, key, 0, true, label);
}

/** A token id field: null, an integer, or (eos) a list of integers, each inside the vocabulary. */
export function tokenIds(file: string, obj: Json, key: string, vocab: number, list: boolean, label = `"${key}"`): number[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  const ids = list && Array.isArray(v) ? (v as unknown[]) : [v];
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new FormatError(file, `field ${label} must be a token id (an integer >= 0)${list ? ' or a list of them' : ''}, got ${JSON.stringify(v)}`);
    }
    if (id >= vocab) throw new FormatError(file, `field ${label} is ${id}, outside the vocabulary (vocab_size ${vocab}: ids 0 .. ${vocab - 1})`);
  }
  return ids as number[];
}

export function bool(file: string, obj: Json, key: string, fallback: boolean, label = `"${key}"`): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new FormatError(file, `field ${label} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** An object field, or null when absent or null. */
export function object(file: string, obj: Json, key: string, label = `"${key}"`): Json | null {
  const v = obj[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new FormatError(file, `field ${label} must be an object, got ${JSON.stringify(v)}`);
  return v as Json;
}

/**
 * transformers' rope_scaling (or one rope_parameters entry): default, linear (inverse frequencies
 * divided by factor) or llama3. `label` is how the object is named in messages.
 */
export function ropeScalingOf(file: string, raw: unknown, label = '"rope_scaling"'): RopeScaling {
  if (raw === undefined || raw === null) return { type: 'default' };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new FormatError(file, `field ${label} must be an object, got ${JSON.stringify(raw)}`);
  const r = raw as Json;
  const type = (r.rope_type ?? r.type ?? 'default') as string;
  if (typeof type !== 'string') throw new FormatError(file, `field ${label}."rope_type" must be a string, got ${JSON.stringify(type)}`);
  const at = (k: string) => `${label}."${k}"`;
  if (type === 'default') return { type: 'default' };
  if (type === 'linear') {
    // transformers' _validate_linear_scaling_rope_parameters: a float factor >= 1.
    const factor = num(file, r, 'factor', NaN, true, at('factor'));
    if (Number.isNaN(factor)) throw new FormatError(file, `field ${at('factor')} is missing; linear rope scaling needs it`);
    if (factor < 1) throw new FormatError(file, `field ${at('factor')} must be at least 1 for linear scaling, got ${factor}`);
    return { type: 'linear', factor };
  }
  if (type === 'llama3') {
    const s = {
      type: 'llama3' as const,
      factor: num(file, r, 'factor', 8, true, at('factor')),
      lowFreqFactor: num(file, r, 'low_freq_factor', 1, true, at('low_freq_factor')),
      highFreqFactor: num(file, r, 'high_freq_factor', 4, true, at('high_freq_factor')),
      originalMaxPositionEmbeddings: int(file, r, 'original_max_position_embeddings', 8192, at('original_max_position_embeddings')),
    };
    // transformers' _validate_llama3_parameters
    if (s.factor < 1) throw new FormatError(file, `field ${at('factor')} must be at least 1 for llama3 scaling, got ${s.factor}`);
    if (s.highFreqFactor <= s.lowFreqFactor) {
      throw new FormatError(file, `field ${label}: high_freq_factor (${s.highFreqFactor}) must be greater than low_freq_factor (${s.lowFreqFactor})`);
    }
    return s;
  }
  throw new FormatError(file, `rope_scaling type "${type}" is not supported (supported: default, linear, llama3)`);
}
