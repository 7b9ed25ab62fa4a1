// From a dataset file to training rows, the one path both `train` and `inspectDataset` take, so
// what an inspection shows is what training gets: read, tokenize, mask, truncate or pack, split.

import { fileChunks } from '../data/browser-read.ts';
import { loadChatTemplate } from '../data/chat-template.ts';
import { type Prepared, prepareDataset, splitValidation } from '../data/prepare.ts';
import { readDataset, type ReadResult } from '../data/read.ts';
import type { ModelFiles } from '../formats/byte-source.ts';
import { FormatError } from '../formats/errors.ts';
import type { TokenRow } from '../model/evaluate.ts';
import type { LoadedModel } from '../model/model.ts';
import type { DatasetSource, TrainSettings } from '../protocol/messages.ts';

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
  const name = dataset.kind === 'url' ? dataset.name : dataset.file.name;
  progress(`reading ${name}`);
  const read = await readDataset(name, datasetChunks(dataset), { onBadRow: 'skip', format: s.format });
  const template = await loadChatTemplate(files);
  const seqLen = Math.min(s.seqLen, model.maxPositions);
  const prepared = prepareDataset(read.examples, { tokenizer: model.tokenizer, template, mask: s.mask, seqLen, packing: s.packing, vocabSize: model.cfg.vocabSize });
  const { train, val } = s.valSplit > 0 ? splitValidation(prepared.rows, s.valSplit, s.seed) : { train: prepared.rows, val: [] };
  return { name, read, prepared, seqLen, train, val };
}
