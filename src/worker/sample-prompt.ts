// The fixed prompt whose continuation the training view shows every validation, so the user sees
// the model change: the prompt part of the first validation row (what the loss masks), or the
// start of it when nothing is masked (plain text).

import type { TokenRow } from '../model/evaluate.ts';
import { IGNORE_INDEX } from '../kernels/cross-entropy.ts';

const MAX_PROMPT_TOKENS = 64;
const TEXT_PROMPT_TOKENS = 12;

export function samplePromptIds(row: TokenRow): number[] {
  const labels = row.labels ?? row.inputIds;
  let end = 1;
  while (end < labels.length && labels[end] === IGNORE_INDEX) end++;
  if (end <= 1) end = Math.min(TEXT_PROMPT_TOKENS, Math.max(1, Math.floor(row.inputIds.length / 2)));
  return row.inputIds.slice(Math.max(0, end - MAX_PROMPT_TOKENS), end);
}
