// Typed reads of GGUF metadata: each wrong type or missing key is a FormatError naming the file and the key.

import { FormatError } from './errors.ts';
import type { GgufScalar, GgufValue } from './gguf.ts';

const INT_TYPES = new Set(['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'u64', 'i64']);
const FLOAT_TYPES = new Set(['f32', 'f64']);

const typeName = (v: GgufValue) => (v.type === 'array' ? `an array of ${v.itemType}` : `a ${v.type}`);

function toNumber(x: GgufScalar): number {
  return typeof x === 'bigint' ? (x > BigInt(Number.MAX_SAFE_INTEGER) || x < BigInt(Number.MIN_SAFE_INTEGER) ? NaN : Number(x)) : (x as number);
}

export class GgufMetadata {
  constructor(
    readonly md: Map<string, GgufValue>,
    readonly file: string,
  ) {}

  fail(key: string, detail: string): never {
    throw new FormatError(this.file, `metadata "${key}" ${detail}`);
  }

  private scalar(key: string, want: string, ok: (v: GgufValue) => boolean): GgufScalar | null {
    const v = this.md.get(key);
    if (v === undefined) return null;
    if (v.type === 'array' || !ok(v)) this.fail(key, `must be ${want}, got ${typeName(v)}`);
    return v.value as GgufScalar;
  }

  string(key: string): string | null {
    return this.scalar(key, 'a string', (v) => v.type === 'string') as string | null;
  }

  bool(key: string): boolean | null {
    return this.scalar(key, 'a bool', (v) => v.type === 'bool') as boolean | null;
  }

  /** Any integer type (llama.cpp itself insists on the one its converter writes); `want` words the error. */
  int(key: string, want = 'an integer'): number | null {
    const x = this.scalar(key, want, (v) => INT_TYPES.has(v.type));
    if (x === null) return null;
    const n = toNumber(x);
    if (!Number.isSafeInteger(n)) this.fail(key, `is ${String(x)}, out of range`);
    return n;
  }

  float(key: string, want = 'a float'): number | null {
    return this.scalar(key, want, (v) => FLOAT_TYPES.has(v.type)) as number | null;
  }

  private array(key: string, want: string, itemOk: (t: string) => boolean): GgufScalar[] | null {
    const v = this.md.get(key);
    if (v === undefined) return null;
    if (v.type !== 'array' || !itemOk(v.itemType)) this.fail(key, `must be ${want}, got ${typeName(v)}`);
    return v.value;
  }

  strings(key: string): string[] | null {
    return this.array(key, 'an array of strings', (t) => t === 'string') as string[] | null;
  }

  ints(key: string): number[] | null {
    const a = this.array(key, 'an array of integers', (t) => INT_TYPES.has(t));
    return a && a.map(toNumber);
  }

  /** Floats, or integers (llama.cpp reads i32 scores as well as f32). */
  numbers(key: string): number[] | null {
    const a = this.array(key, 'an array of numbers', (t) => FLOAT_TYPES.has(t) || INT_TYPES.has(t));
    return a && a.map(toNumber);
  }
}
