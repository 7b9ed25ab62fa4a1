// Guidance where users of LoRA commonly go wrong, as plain messages for the configuration form.
// Pure: the form passes what it knows, and a test can pass anything.

import type { ModelConfig } from '../model/config.ts';
import { LINEAR_MODULES, type LinearModule, linearShape } from '../model/params.ts';
import type { TrainSettings } from '../protocol/messages.ts';

export interface Guidance {
  /** error: the run would fail; warning: it would run, likely badly. */
  level: 'error' | 'warning';
  text: string;
}

export interface GuidanceInput {
  settings: Pick<TrainSettings, 'rank' | 'lr' | 'targets' | 'steps' | 'warmup' | 'seqLen'>;
  /** LoRA parameters the settings train. */
  trainableParameters: number;
  /** Modules the model offers as targets. */
  modules: readonly string[];
  cfg?: ModelConfig | null;
  maxPositions?: number;
  /** Tokens one pass over the training rows trains on, once the dataset is read; absent = unknown. */
  datasetTokens?: number | null;
}

/** Beyond these, LoRA learning rates are almost always a typo or a mistake. */
export const LR_HIGH = 1e-2;
export const LR_LOW = 1e-5;
/** Ranks above this are "high" (the usual range is 4 to 16). */
export const HIGH_RANK = 16;

const EMBEDDING_LIKE = /(^|\.)(embed_tokens|lm_head|wte|wpe|embed_out|word_embeddings)$/;

export function configGuidance(g: GuidanceInput): Guidance[] {
  const out: Guidance[] = [];
  const s = g.settings;
  const chosen = s.targets.filter((t) => g.modules.includes(t));
  if (g.modules.length > 0 && chosen.length === 0) {
    out.push({ level: 'error', text: 'No target module is selected: pick at least one (the attention projections q_proj, k_proj, v_proj, o_proj are a good start).' });
  }
  if (g.cfg) {
    for (const m of chosen) {
      if (!(LINEAR_MODULES as readonly string[]).includes(m)) continue;
      const [o, i] = linearShape(g.cfg, m as LinearModule);
      if (s.rank > Math.min(o, i)) {
        out.push({ level: 'error', text: `Rank ${s.rank} is larger than ${m} allows (its weight is ${o}×${i}): use a rank of at most ${Math.min(o, i)}.` });
        break;
      }
    }
  }

  const embeddings = s.targets.filter((t) => EMBEDDING_LIKE.test(t));
  if (embeddings.length > 0) {
    out.push({
      level: 'warning',
      text: `${embeddings.join(' and ')} ${embeddings.length > 1 ? 'are' : 'is'} targeted: the vocabulary-sized matrices make the adapter large and overfit easily; the attention and MLP projections are usually enough.`,
    });
  }

  if (s.lr > LR_HIGH) {
    out.push({ level: 'warning', text: `Learning rate ${s.lr} is unusually high for LoRA (typical: 1e-4 to 3e-3): the loss is likely to diverge.` });
  } else if (s.lr < LR_LOW) {
    out.push({ level: 'warning', text: `Learning rate ${s.lr} is unusually low for LoRA (typical: 1e-4 to 3e-3): the adapter will barely change the model.` });
  }

  const tokens = g.datasetTokens;
  // More free parameters than training tokens lets the adapter memorise the rows instead of learning
  // from them. Ranks up to 16 are the usual range and rarely the problem (LoRA's capacity is far below
  // its parameter count), so only a rank above it is called high.
  if (tokens && tokens > 0 && s.rank > HIGH_RANK && g.trainableParameters > tokens) {
    const perRank = g.trainableParameters / s.rank;
    let r = 4;
    while (r * 2 < s.rank && perRank * r * 2 <= tokens) r *= 2;
    out.push({
      level: 'warning',
      text: `Rank ${s.rank} is high for this dataset: ${g.trainableParameters.toLocaleString('en')} trainable parameters for ${tokens.toLocaleString('en')} training tokens, so the adapter can memorise the rows. Try rank ${r} or fewer target modules.`,
    });
  }

  if (s.steps > 0 && s.warmup >= s.steps) {
    out.push({ level: 'warning', text: `Warmup (${s.warmup} steps) covers the whole run of ${s.steps} steps: the learning rate never reaches its set value.` });
  }
  if (g.maxPositions !== undefined && s.seqLen > g.maxPositions) {
    out.push({ level: 'warning', text: `This model reads at most ${g.maxPositions} positions: rows are cut to ${g.maxPositions} tokens, and the estimate uses that.` });
  }
  return out;
}
