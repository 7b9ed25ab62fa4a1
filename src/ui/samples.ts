// The sample datasets the app serves (public/datasets).

import type { DatasetSource } from '../protocol/messages.ts';
import type { DatasetChoice } from '../state/store.ts';

export const SAMPLE_DATASETS = [
  { file: 'verily.jsonl', label: 'Answer style: "Verily, ... Amen." (prompt/completion)' },
  { file: 'finish-the-verse.jsonl', label: 'Finish the verse (chat)' },
  { file: 'psalms.txt', label: 'Psalms (plain text)' },
] as const;

export function sampleSource(file: string): DatasetSource {
  return { kind: 'url', url: new URL(`datasets/${file}`, document.baseURI).href, name: file };
}

/** The worker's view of the dataset the user chose. */
export function datasetSource(choice: DatasetChoice): DatasetSource {
  return choice.kind === 'sample' ? sampleSource(choice.file) : { kind: 'file', file: choice.file };
}
