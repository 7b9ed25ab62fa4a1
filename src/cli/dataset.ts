// Datasets for the CLI: read a file in any supported format, tokenize it with the model's own
// tokenizer and chat template, mask, truncate or pack, and say what happened (on stderr).

import { loadChatTemplate } from '../data/chat-template.ts';
import { readDatasetFile } from '../data/node-read.ts';
import { type Prepared, prepareDataset } from '../data/prepare.ts';
import type { MaskMode } from '../data/tokenize.ts';
import type { BadRowPolicy, DatasetFormat } from '../data/types.ts';
import type { ModelFiles } from '../formats/byte-source.ts';
import type { ModelConfig } from '../model/config.ts';
import { defaultMaxPositions, loadConfigAndTokenizer } from '../model/model.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { type Flags, optionalString, UsageError } from './args.ts';

export const DATA_FLAGS: Flags = {
  format: { type: 'string' },
  mask: { type: 'string' },
  packing: { type: 'boolean' },
  'skip-bad-rows': { type: 'boolean' },
  'txt-mode': { type: 'string' },
};

export const DATA_FLAGS_HELP = `  --format F               auto (default) | text | completion | chat | alpaca | tokens
  --mask M                 prompt (default: train on completions / assistant turns) | none | last-turn
  --packing                pack short examples into full sequences (attention stays inside each example)
  --skip-bad-rows          skip rows with problems (they are counted and listed) instead of stopping
  --txt-mode M             .txt files: documents (split on blank lines, default) | stream`;

const FORMATS = ['auto', 'text', 'completion', 'chat', 'alpaca', 'tokens'] as const;
const MASKS = ['prompt', 'none', 'last-turn'] as const;

export interface DataSettings {
  format: DatasetFormat | 'auto';
  mask: MaskMode;
  packing: boolean;
  onBadRow: BadRowPolicy;
  txtMode: 'documents' | 'stream';
}

export function dataSettings(v: Record<string, unknown>): DataSettings {
  const pick = <T extends string>(name: string, options: readonly T[], fallback: T): T => {
    const x = optionalString(v, name) ?? fallback;
    if (!options.includes(x as T)) throw new UsageError(`--${name} must be one of ${options.join(', ')}, got "${x}"`);
    return x as T;
  };
  return {
    format: pick('format', FORMATS, 'auto'),
    mask: pick('mask', MASKS, 'prompt'),
    packing: v.packing === true,
    onBadRow: v['skip-bad-rows'] === true ? 'skip' : 'stop',
    txtMode: pick('txt-mode', ['documents', 'stream'] as const, 'documents'),
  };
}

/** What tokenizing a dataset needs of a model: a loaded model has it, and so has tokenizerModel. */
export interface TokenizingModel {
  name: string;
  tokenizer: TextTokenizer;
  cfg: Pick<ModelConfig, 'vocabSize'>;
}

/**
 * The model's config and tokenizer without its weights (nothing on the GPU, nothing downloaded but
 * config and tokenizer files); maxPositions is the longest sequence a loaded model takes.
 */
export async function tokenizerModel(files: ModelFiles): Promise<TokenizingModel & { cfg: ModelConfig; maxPositions: number }> {
  const { cfg, tokenizer } = await loadConfigAndTokenizer(files);
  return { name: files.name, tokenizer, cfg, maxPositions: defaultMaxPositions(cfg) };
}

/** Reads, tokenizes and prepares one file; problems and warnings go to stderr. */
export async function prepareFile(path: string, model: TokenizingModel, files: ModelFiles, s: DataSettings, seqLen: number): Promise<Prepared & { format: DatasetFormat }> {
  const read = await readDatasetFile(path, { format: s.format, onBadRow: s.onBadRow, txtMode: s.txtMode });
  const template = await loadChatTemplate(files);
  const prepared = prepareDataset(read.examples, { tokenizer: model.tokenizer, template, mask: s.mask, seqLen, packing: s.packing, onBadRow: s.onBadRow, vocabSize: model.cfg.vocabSize });
  const skipped = [...read.skipped, ...prepared.skipped];
  if (read.format === 'chat' && template.source === 'chatml-fallback') {
    prepared.warnings.unshift(`${model.name} has no chat template; using ChatML (<|im_start|>role ... <|im_end|>) instead`);
  }
  for (const w of prepared.warnings) console.error(`warning: ${w}`);
  if (skipped.length) {
    console.error(`skipped ${skipped.length} bad row${skipped.length > 1 ? 's' : ''}:`);
    for (const p of skipped.slice(0, 20)) console.error(`  ${p.file} line ${p.line}: ${p.message}`);
    if (skipped.length > 20) console.error(`  ... and ${skipped.length - 20} more`);
  }
  return { ...prepared, skipped, format: read.format };
}
