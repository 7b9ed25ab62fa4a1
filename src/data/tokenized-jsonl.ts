// Pre-tokenized JSONL: one object a line, {"input_ids": [...], "labels": [...]} (labels optional,
// -100 = ignored). Errors name the file and line.

import type { TokenRow } from '../model/evaluate.ts';
import { DatasetError } from './errors.ts';

export { DatasetError };

function intArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x));
}

export function parseTokenizedJsonl(text: string, file: string): TokenRow[] {
  const rows: TokenRow[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const where = i + 1;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new DatasetError(file, where, `is not valid JSON (${(e as Error).message})`);
    }
    const o = obj as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || !('input_ids' in o)) {
      throw new DatasetError(file, where, 'has no "input_ids"; each line must be {"input_ids": [...], "labels": [...]} (labels optional)');
    }
    if (!intArray(o.input_ids)) throw new DatasetError(file, where, '"input_ids" must be an array of integers');
    if (o.labels !== undefined && !intArray(o.labels)) throw new DatasetError(file, where, '"labels" must be an array of integers (-100 = ignored)');
    rows.push({ inputIds: o.input_ids, labels: o.labels as number[] | undefined, source: `${file} line ${where}` });
  });
  if (rows.length === 0) throw new DatasetError(file, 1, 'holds no rows');
  return rows;
}
