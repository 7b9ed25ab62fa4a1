// Argument parsing for the CLI: node:util's strict parseArgs plus checked numbers, so a typo
// gets a usage error that names the flag instead of a silent default.

import { parseArgs } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Flags = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** "--lr -1" reads as the flag and its value (parseArgs alone takes "-1" for an option and refuses it). */
function joinNegativeValues(argv: string[], flags: Flags): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : null;
    if (name !== null && flags[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|inf|nan)/i.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

export function parse(argv: string[], flags: Flags): Record<string, string | boolean | undefined> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: joinNegativeValues(argv, flags), options: flags, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    // parseArgs explains over several lines; the first says what is wrong.
    throw new UsageError((e as Error).message.split('\n')[0]!);
  }
  return values;
}

export function required(v: Record<string, unknown>, name: string): string {
  const x = v[name];
  if (typeof x !== 'string' || x === '') throw new UsageError(`--${name} is required`);
  return x;
}

export function optionalString(v: Record<string, unknown>, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

export function num(v: Record<string, unknown>, name: string, fallback: number, o: { min?: number; max?: number; int?: boolean } = {}): number {
  const raw = v[name];
  if (raw === undefined) return fallback;
  const x = Number(raw);
  const bad =
    !Number.isFinite(x) || (o.int && !Number.isInteger(x)) || (o.min !== undefined && x < o.min) || (o.max !== undefined && x > o.max);
  if (bad) {
    const low = o.min === undefined ? '' : o.min === Number.MIN_VALUE ? '> 0' : `>= ${o.min}`;
    const range = [o.int ? 'an integer' : 'a number', low, o.max !== undefined ? `<= ${o.max}` : '']
      .filter(Boolean)
      .join(' ');
    throw new UsageError(`--${name} must be ${range}, got "${String(raw)}"`);
  }
  return x;
}

/** "512M", "8G", "1.5GB" or plain bytes. */
export function bytesArg(v: Record<string, unknown>, name: string): number | undefined {
  const raw = v[name];
  if (typeof raw !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(raw.trim());
  if (!m) throw new UsageError(`--${name} must be a size like 512M or 8G, got "${raw}"`);
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * unit);
}
