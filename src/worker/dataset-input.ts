// From a dataset file to training rows, the one path both `train` and `inspectDataset` take, so
// what an inspection shows is what training gets: read, tokenize, mask, truncate or pack, split.
// The `inspectDataset` request itself is here too: statistics, bad rows and a preview.

import { fileChunks } from '../data/browser-read.ts';
import { loadChatTemplate } from '../data/chat-template.ts';
import { type Prepared, prepareDataset, previewRow, splitValidation } from '../data/prepare.ts';
import { readDataset, type ReadResult } from '../data/read.ts';
import type { ModelFiles } from '../formats/byte-source.ts';
import { FormatError } from '../formats/errors.ts';
import type { TokenRow } from '../model/evaluate.ts';
import type { LoadedModel } from '../model/model.ts';
import type { DatasetSource, InspectDatasetRequest, InspectDatasetResult, TrainSettings } from '../protocol/messages.ts';
import { type EngineContext, needModel, type Progress } from './context.ts';
import { datasetName } from './runs.ts';

/** Bad rows an inspection lists; the rest are only counted, so a broken file stays a small reply. */
const INSPECT_SKIPPED_SHOWN = 50;
/** Rows an inspection previews. */
const INSPECT_PREVIEW_ROWS = 5;

/** The bytes of a dataset as they arrive, from the app's server or a dropped file. */
async function* datasetChunks(source: DatasetSource): AsyncIterable<Uint8Array> {
  if (source.kind === 'file') {
    yield* fileChunks(source.file);
    return;
  }
  const res = await fetch(source.url);
  if (!res.ok || !res.body) throw new FormatError(source.url, `could not be fetched (HTTP ${res.status})`);
  const reader = res.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

/** A dataset as training takes it. */
export interface PreparedData {
  name: string;
  read: ReadResult;
  prepared: Prepared;
  /** The settings' seqLen, capped at the model's context. */
  seqLen: number;
  train: TokenRow[];
  val: TokenRow[];
}

export async function prepareData(model: LoadedModel, files: ModelFiles, dataset: DatasetSource, s: TrainSettings, progress: (message: string) => void): Promise<PreparedData> {
  const name = datasetName(dataset);
  progress(`reading ${name}`);
  const read = await readDataset(name, datasetChunks(dataset), { onBadRow: 'skip', format: s.format });
  const template = await loadChatTemplate(files);
  const seqLen = Math.min(s.seqLen, model.maxPositions);
  const prepared = prepareDataset(read.examples, { tokenizer: model.tokenizer, template, mask: s.mask, seqLen, packing: s.packing, vocabSize: model.cfg.vocabSize });
  const { train, val } = s.valSplit > 0 ? splitValidation(prepared.rows, s.valSplit, s.seed) : { train: prepared.rows, val: [] };
  return { name, read, prepared, seqLen, train, val };
}

/** What `train` would do with this dataset and these settings: statistics, bad rows, a preview. */
export async function inspectDataset(ctx: EngineContext, req: InspectDatasetRequest, progress: Progress): Promise<InspectDatasetResult> {
  const { model, files } = needModel(ctx);
  const { name, read, prepared, train: rows, val } = await prepareData(model, files, req.dataset, req.settings, progress);
  // Both lists are in file order on their own; the user fixes the file top to bottom.
  const skipped = [...read.skipped, ...prepared.skipped].sort((a, b) => a.line - b.line);
  // prepare's warnings count only its own skips; rows the reader passed over are dropped by training too.
  const warnings = read.skipped.length > 0
    ? [...prepared.warnings, `${read.skipped.length} bad row${read.skipped.length === 1 ? ' is' : 's are'} skipped: training leaves ${read.skipped.length === 1 ? 'it' : 'them'} out.`]
    : prepared.warnings;
  return {
    name,
    format: read.format,
    examples: read.examples.length,
    stats: prepared.stats,
    trainRows: rows.length,
    valRows: val.length,
    skipped: skipped.slice(0, INSPECT_SKIPPED_SHOWN).map(({ line, message }) => ({ line, message })),
    skippedTotal: skipped.length,
    warnings,
    preview: prepared.rows.slice(0, INSPECT_PREVIEW_ROWS).map((row) => ({
      source: row.source ?? '',
      tokens: row.inputIds.length,
      segments: previewRow(row, model.tokenizer),
    })),
  };
}
