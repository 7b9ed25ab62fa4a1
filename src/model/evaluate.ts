// Mean cross-entropy over every target token of a set of sequences (transformers' convention:
// logits at position t predict labels[t + 1]; -100 is ignored; the mean is over all targets).
// Batches are padded at the end, which causal attention never sees, so the result does not
// depend on the batch size.
// Dimension key: B = sequences in a batch, T = longest sequence of the batch, R = B*T.

import { uploadBuffer } from '../gpu/recorder.ts';
import { IGNORE_INDEX } from '../kernels/cross-entropy.ts';
import { segmentStarts } from '../kernels/segments.ts';
import { allocKvCache, encodeForward, releaseKvCache } from './forward.ts';
import { lossSum } from './lm-head.ts';
import { forwardContext, type LoadedModel } from './model.ts';

export interface TokenRow {
  inputIds: number[];
  /** Defaults to inputIds. */
  labels?: number[];
  /** Where the row came from, for error messages (e.g. "data.jsonl line 3"). */
  source?: string;
  /**
   * Packed rows: each token's position within its own document (restarting at 0 where a document
   * starts). Attention stays inside each document. Absent: positions 0, 1, 2, ...
   */
  positionIds?: number[];
}

export interface EvalOptions {
  seqLen?: number;
  batchSize?: number;
}

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export function checkRow(model: LoadedModel, row: TokenRow, index: number): void {
  const where = row.source ?? `row ${index + 1}`;
  const V = model.cfg.vocabSize;
  const bad = row.inputIds.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= V);
  if (bad >= 0) throw new InputError(`${where}: input_ids[${bad}] = ${row.inputIds[bad]} is outside the vocabulary (0 .. ${V - 1})`);
  if (row.labels && row.labels.length !== row.inputIds.length) {
    throw new InputError(`${where}: labels has ${row.labels.length} entries but input_ids has ${row.inputIds.length}`);
  }
  const pos = row.positionIds;
  if (pos && (pos.length !== row.inputIds.length || pos.some((p, t) => p !== 0 && p !== (pos[t - 1] ?? -1) + 1) || pos[0] !== 0)) {
    throw new InputError(`${where}: position_ids must start at 0, count up by one and restart at 0 where a packed document starts, one per input id`);
  }
  const badLabel = row.labels?.findIndex((id) => id !== IGNORE_INDEX && (!Number.isInteger(id) || id < 0 || id >= V)) ?? -1;
  if (badLabel >= 0) throw new InputError(`${where}: labels[${badLabel}] = ${row.labels![badLabel]} is neither -100 nor inside the vocabulary (0 .. ${V - 1})`);
}

export async function evaluate(model: LoadedModel, rows: TokenRow[], opts: EvalOptions = {}): Promise<{ loss: number; tokens: number }> {
  const seqLen = Math.min(opts.seqLen ?? model.maxPositions, model.maxPositions);
  const batchSize = Math.max(1, opts.batchSize ?? 1);
  rows.forEach((r, i) => checkRow(model, r, i));
  const gpu = model.gpu;
  const ctx = forwardContext(model);
  let sum = 0;
  let count = 0;
  for (let b0 = 0; b0 < rows.length; b0 += batchSize) {
    const batch = rows.slice(b0, b0 + batchSize).map((r) => ({
      ids: r.inputIds.slice(0, seqLen),
      labels: (r.labels ?? r.inputIds).slice(0, seqLen),
      positionIds: r.positionIds?.slice(0, seqLen),
    }));
    const B = batch.length;
    const T = Math.max(1, ...batch.map((r) => r.ids.length));
    const ids = new Uint32Array(B * T); // [B, T], padded with 0
    const targets = new Int32Array(B * T).fill(IGNORE_INDEX); // [B, T]
    batch.forEach((r, b) => {
      ids.set(r.ids, b * T);
      for (let t = 0; t + 1 < r.ids.length; t++) targets[b * T + t] = r.labels[t + 1]!;
    });
    if (!targets.some((t) => t !== IGNORE_INDEX)) continue;
    const idsBuf = uploadBuffer(gpu, ids, 'ids');
    const packed = batch.some((r) => r.positionIds);
    const seg = packed ? uploadBuffer(gpu, segmentStarts(batch.map((r) => r.positionIds), T), 'seg') : undefined;
    const cache = allocKvCache(gpu, model.cfg, B, T, true);
    const hidden = encodeForward(ctx, { ids: idsBuf, B, T, p0: 0, cache, seg });
    const part = await lossSum(gpu, model.weights.lmHead, hidden, targets, model.cfg.finalLogitSoftcap);
    for (const buf of [idsBuf, hidden, ...(seg ? [seg] : [])]) gpu.pool.release(buf);
    releaseKvCache(gpu, cache);
    sum += part.sum;
    count += part.count;
  }
  return { loss: count ? sum / count : NaN, tokens: count };
}
