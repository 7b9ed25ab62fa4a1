// Token rows as JSONL, one row per line, exactly as training sees them: `data tokenize` writes them
// for tabtune (and for a look), `export-recipe` for axolotl, through this one writer so the two files
// hold the same ids and labels.

import type { TokenRow } from '../model/evaluate.ts';
import { writeFileAtomic } from './output.ts';

/** tabtune's pre-tokenized row: {"input_ids", "labels"[, "position_ids"]} (packed rows carry positions). */
export function tabtuneRow(r: TokenRow): object {
  return { input_ids: r.inputIds, labels: r.labels ?? r.inputIds, ...(r.positionIds ? { position_ids: r.positionIds } : {}) };
}

/**
 * axolotl's pre-tokenized row: exactly input_ids, attention_mask, labels (docs/dataset-formats/tokenized.qmd;
 * axolotl takes a dataset as tokenized only when all three columns are there). A packed row has no
 * such form (axolotl packs by itself, with sample_packing), so one here is a bug in the caller.
 */
export function axolotlRow(r: TokenRow): object {
  if (r.positionIds) throw new Error('axolotl rows are written unpacked; pack with sample_packing instead');
  return { input_ids: r.inputIds, attention_mask: r.inputIds.map(() => 1), labels: r.labels ?? r.inputIds };
}

/** One JSON object per line, written whole (writeFileAtomic): a failed write leaves an existing file as it was. */
export async function writeTokenRows(path: string, rows: TokenRow[], format: (r: TokenRow) => object = tabtuneRow): Promise<void> {
  const enc = new TextEncoder();
  // In pieces of about 1 MiB: a large dataset is never one string in memory.
  async function* pieces(): AsyncGenerator<Uint8Array> {
    let batch = '';
    for (const r of rows) {
      batch += `${JSON.stringify(format(r))}\n`;
      if (batch.length > 1 << 20) {
        yield enc.encode(batch);
        batch = '';
      }
    }
    yield enc.encode(batch);
  }
  await writeFileAtomic(path, pieces());
}
