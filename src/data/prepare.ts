// Examples -> training rows: tokenize with loss masks, truncate to seqLen, optionally pack several
// examples into one row, and report what happened (lengths, trained tokens, truncation, bad rows).

import type { TokenRow } from '../model/evaluate.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { seededRandom } from '../util/random.ts';
import type { ChatTemplate } from './chat-template.ts';
import { DatasetError } from './errors.ts';
import { IGNORE_INDEX, tokenizeExample, type MaskMode } from './tokenize.ts';
import type { BadRowPolicy, ExampleSource, RowProblem, SourcedExample } from './types.ts';

export interface PrepareOptions {
  tokenizer: TextTokenizer;
  template: ChatTemplate;
  mask: MaskMode;
  /** Longest row in tokens; longer examples are truncated. */
  seqLen: number;
  /** Greedily concatenate whole examples (in order) into rows of at most seqLen tokens. */
  packing: boolean;
  /** Default 'stop'. */
  onBadRow?: BadRowPolicy;
  /** The model's vocabulary size (see TokenizeContext). */
  vocabSize?: number;
}

export interface DatasetStats {
  /** Examples kept (bad rows skipped are not counted). */
  examples: number;
  /** Example lengths in tokens before truncation. */
  tokens: { min: number; median: number; max: number; total: number };
  /** Tokens the loss is computed on after truncation: labels != -100, past each example's first token. */
  trainedTokens: number;
  /** The other tokens kept after truncation (masked, or an example's first token, which nothing predicts). */
  maskedTokens: number;
  /** Examples longer than seqLen (truncated). */
  overMaxLength: number;
  /** Tokens cut off by truncation. */
  tokensLost: number;
}

export interface Prepared {
  rows: TokenRow[];
  stats: DatasetStats;
  skipped: RowProblem[];
  warnings: string[];
}

interface Tokenized {
  inputIds: number[];
  labels: number[];
  /** Pre-tokenized rows that were packed already (tabtune data tokenize --packing). */
  positionIds?: number[];
  source: ExampleSource;
}

function where(s: ExampleSource): string {
  return `${s.file} line ${s.line}`;
}

/** Loss targets: logits at t-1 predict labels[t], so position 0 is never one. */
function countTrained(labels: number[]): number {
  let n = 0;
  for (let t = 1; t < labels.length; t++) if (labels[t] !== IGNORE_INDEX) n++;
  return n;
}

function median(sorted: number[]): number {
  if (sorted.length === 0) return 0;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function packedSource(parts: Tokenized[]): string {
  const first = parts[0]!.source;
  const last = parts[parts.length - 1]!.source;
  if (parts.length === 1) return where(first);
  if (first.file === last.file) return `${first.file} lines ${first.line}-${last.line} (${parts.length} examples packed)`;
  return `${where(first)} to ${where(last)} (${parts.length} examples packed)`;
}

/** One packed row: positions restart at 0 at each example, and no example is trained to predict the next one's first token. */
function packRow(parts: Tokenized[]): TokenRow {
  const inputIds: number[] = [];
  const labels: number[] = [];
  const positionIds: number[] = [];
  for (const p of parts) {
    const start = inputIds.length;
    inputIds.push(...p.inputIds);
    labels.push(...p.labels);
    for (let t = 0; t < p.inputIds.length; t++) positionIds.push(p.positionIds?.[t] ?? t);
    if (start > 0) labels[start] = IGNORE_INDEX;
  }
  return { inputIds, labels, positionIds, source: packedSource(parts) };
}

function chatmlWarning(o: PrepareOptions): string {
  const special = ['<|im_start|>', '<|im_end|>'].every((t) => o.tokenizer.encode(t, { addSpecialTokens: false }).length === 1);
  return (
    `The model has no chat template: chat examples are formatted with ChatML (${o.template.origin}).` +
    (special ? '' : " The tokenizer has no <|im_start|>/<|im_end|> tokens, so those markers become ordinary text tokens.")
  );
}

export function prepareDataset(examples: SourcedExample[], o: PrepareOptions): Prepared {
  if (!Number.isInteger(o.seqLen) || o.seqLen < 2) throw new RangeError(`seqLen must be an integer of at least 2 (got ${o.seqLen})`);
  const policy = o.onBadRow ?? 'stop';
  const ctx = { tokenizer: o.tokenizer, template: o.template, mask: o.mask, vocabSize: o.vocabSize };
  const warnings: string[] = [];
  const skipped: RowProblem[] = [];

  if (o.template.source === 'chatml-fallback' && examples.some((e) => e.example.kind === 'chat')) warnings.push(chatmlWarning(o));
  if (o.tokenizer.eosTokenIds.length === 0 && examples.some((e) => e.example.kind !== 'chat' && e.example.kind !== 'tokens')) {
    warnings.push('The tokenizer has no EOS token: examples are not ended with one, so the model will not learn where to stop.');
  }

  const kept: Tokenized[] = [];
  const lengths: number[] = [];
  let overMaxLength = 0;
  let tokensLost = 0;
  let trainedTokens = 0;
  let keptTokens = 0;
  for (const { example, source } of examples) {
    let problem: string | null = null;
    let ids: number[] = [];
    let labels: number[] = [];
    let positionIds: number[] | undefined;
    try {
      ({ inputIds: ids, labels, positionIds } = tokenizeExample(example, ctx));
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      problem = e.message;
    }
    const fullLength = ids.length;
    const trainedBefore = countTrained(labels);
    const truncated = problem === null && fullLength > o.seqLen;
    if (truncated) {
      ids = ids.slice(0, o.seqLen);
      labels = labels.slice(0, o.seqLen);
      positionIds = positionIds?.slice(0, o.seqLen);
    }
    const trained = countTrained(labels);
    if (problem === null && trained === 0) {
      problem = truncated && trainedBefore > 0
        ? `every trained token lies past the first ${o.seqLen} tokens (seqLen): nothing to learn after truncation`
        : ids.length < 2
          ? `has ${ids.length} token${ids.length === 1 ? '' : 's'}; a row needs at least 2, since each token is trained to predict the next`
          : 'every token is masked: nothing to learn';
    }
    if (problem !== null) {
      if (policy === 'stop') throw new DatasetError(source.file, source.line, problem);
      skipped.push({ ...source, message: problem });
      continue;
    }
    if (truncated) {
      overMaxLength++;
      tokensLost += fullLength - o.seqLen;
    }
    lengths.push(fullLength);
    trainedTokens += trained;
    keptTokens += ids.length;
    kept.push({ inputIds: ids, labels, ...(positionIds ? { positionIds } : {}), source });
  }

  if (kept.length === 0) {
    const file = examples[0]?.source.file ?? 'dataset';
    const detail =
      examples.length === 0
        ? 'holds no examples'
        : `has no trained token: all ${examples.length} examples were skipped, nothing to learn (first problem: ${where(skipped[0]!)}: ${skipped[0]!.message})`;
    throw new DatasetError(file, 0, detail);
  }

  let rows: TokenRow[];
  if (!o.packing) {
    rows = kept.map((k) => ({ inputIds: k.inputIds, labels: k.labels, ...(k.positionIds ? { positionIds: k.positionIds } : {}), source: where(k.source) }));
  } else {
    rows = [];
    let current: Tokenized[] = [];
    let used = 0;
    for (const k of kept) {
      if (used + k.inputIds.length > o.seqLen && current.length > 0) {
        rows.push(packRow(current));
        current = [];
        used = 0;
      }
      current.push(k);
      used += k.inputIds.length;
    }
    if (current.length > 0) rows.push(packRow(current));
  }

  if (overMaxLength > 0) {
    warnings.push(
      `${overMaxLength} example${overMaxLength === 1 ? ' was' : 's were'} longer than seqLen (${o.seqLen}) and truncated; ${tokensLost} tokens were cut off.`,
    );
  }
  if (skipped.length > 0) warnings.push(`${skipped.length} bad row${skipped.length === 1 ? '' : 's'} skipped.`);

  const sorted = [...lengths].sort((a, b) => a - b);
  return {
    rows,
    stats: {
      examples: kept.length,
      tokens: { min: sorted[0]!, median: median(sorted), max: sorted[sorted.length - 1]!, total: lengths.reduce((a, b) => a + b, 0) },
      trainedTokens,
      maskedTokens: keptTokens - trainedTokens,
      overMaxLength,
      tokensLost,
    },
    skipped,
    warnings,
  };
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer (got ${v})`);
}

/** Optimizer steps in one epoch, as transformers' Trainer counts them (a last partial accumulation counts). */
export function stepsPerEpoch(rows: number, batchSize: number, gradAccum: number): number {
  positiveInt('batchSize', batchSize);
  positiveInt('gradAccum', gradAccum);
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`rows must be a non-negative integer (got ${rows})`);
  return Math.ceil(Math.ceil(rows / batchSize) / gradAccum);
}

/**
 * Holds out round(fraction * rows) rows, chosen by a seeded shuffle (at least 1 on each side when
 * fraction > 0 and there are 2 rows or more). Both parts keep the rows' original order.
 */
export function splitValidation<T>(rows: T[], fraction: number, seed: number): { train: T[]; val: T[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`the validation fraction must be in [0, 1) (got ${fraction})`);
  const n = rows.length;
  const k = fraction > 0 && n >= 2 ? Math.min(n - 1, Math.max(1, Math.round(n * fraction))) : 0;
  const order = Array.from({ length: n }, (_, i) => i);
  const rand = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const isVal = new Array<boolean>(n).fill(false);
  for (const i of order.slice(0, k)) isVal[i] = true;
  return { train: rows.filter((_, i) => !isVal[i]), val: rows.filter((_, i) => isVal[i]) };
}

// ---------------------------------------------------------------------------------------------
// Preview: which parts of a row the model is trained on.

export interface PreviewSegment {
  text: string;
  trained: boolean;
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * The row's text in runs of trained (a loss target: label != -100, not the row's first token) and
 * masked tokens. The row is decoded once and cut where each run's tokens end, so a character whose
 * bytes straddle two runs is shown whole (in the later run).
 */
export function previewRow(row: TokenRow, tokenizer: TextTokenizer): PreviewSegment[] {
  const ids = row.inputIds;
  const labels = row.labels ?? ids;
  const trainedAt = (t: number) => t > 0 && labels[t] !== IGNORE_INDEX;
  const runs: { end: number; trained: boolean }[] = [];
  for (let t = 0; t < ids.length; t++) {
    const last = runs[runs.length - 1];
    if (last && last.trained === trainedAt(t)) last.end = t + 1;
    else runs.push({ end: t + 1, trained: trainedAt(t) });
  }
  const full = tokenizer.decode(ids);
  const segments: PreviewSegment[] = [];
  let from = 0;
  for (const run of runs) {
    const to = run.end === ids.length ? full.length : Math.max(from, commonPrefix(tokenizer.decode(ids.slice(0, run.end)), full));
    const text = full.slice(from, to);
    from = to;
    if (text === '') continue;
    const last = segments[segments.length - 1];
    if (last && last.trained === run.trained) last.text += text;
    else segments.push({ text, trained: run.trained });
  }
  return segments;
}

const DIM = '\x1b[2m';
const UNDIM = '\x1b[22m';

/** For the CLI: masked parts dimmed (ansi) or wrapped in ⟦…⟧ (brackets); trained parts as they are. */
export function formatPreview(segments: PreviewSegment[], style: 'ansi' | 'brackets'): string {
  return segments.map((s) => (s.trained ? s.text : style === 'ansi' ? `${DIM}${s.text}${UNDIM}` : `⟦${s.text}⟧`)).join('');
}
