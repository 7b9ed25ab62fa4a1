// Text generation with a KV cache: the prompt is run once (prefill), then each new token costs
// one token of work. Stops at an EOS id or after maxNewTokens.
// Dimension key: P = prompt tokens, S = cache slots = P + maxNewTokens.

import { uploadBuffer } from '../gpu/recorder.ts';
import { allocKvCache, encodeForward, releaseKvCache } from './forward.ts';
import { rowLogits } from './lm-head.ts';
import { forwardContext, type LoadedModel } from './model.ts';
import { InputError, checkRow } from './evaluate.ts';
import { sampleToken, seededRandom } from './sampling.ts';

export interface GenerateOptions {
  maxNewTokens?: number;
  /** 0 = greedy (default). */
  temperature?: number;
  topP?: number;
  seed?: number;
  onToken?: (id: number) => void;
}

/** Returns the new token ids (the EOS that ended generation included). */
export async function generateTokens(model: LoadedModel, prompt: number[], o: GenerateOptions = {}): Promise<number[]> {
  if (prompt.length === 0) throw new InputError('the prompt is empty; give at least one token');
  checkRow(model, { inputIds: prompt, source: 'prompt' }, 0);
  const maxNew = o.maxNewTokens ?? 64;
  const S = Math.min(model.maxPositions, prompt.length + maxNew);
  if (prompt.length >= model.maxPositions) {
    throw new InputError(`the prompt has ${prompt.length} tokens; this model takes at most ${model.maxPositions} positions`);
  }
  const gpu = model.gpu;
  const ctx = forwardContext(model);
  const cache = allocKvCache(gpu, model.cfg, 1, S);
  const random = seededRandom(o.seed ?? 0);
  const sampling = { temperature: o.temperature ?? 0, topP: o.topP ?? 1 };
  const eos = new Set(model.tokenizer.eosTokenIds.length ? model.tokenizer.eosTokenIds : model.cfg.eosTokenIds);
  const out: number[] = [];
  try {
    let next = prompt;
    let p0 = 0;
    while (out.length < maxNew && p0 + next.length <= S) {
      const ids = uploadBuffer(gpu, Uint32Array.from(next), 'ids');
      const hidden = encodeForward(ctx, { ids, B: 1, T: next.length, p0, cache });
      const logits = await rowLogits(gpu, model.weights.lmHead, hidden, next.length - 1, model.cfg.finalLogitSoftcap);
      gpu.pool.release(ids);
      gpu.pool.release(hidden);
      const id = sampleToken(logits, sampling, random);
      out.push(id);
      o.onToken?.(id);
      if (eos.has(id)) break;
      p0 += next.length;
      next = [id];
    }
  } finally {
    releaseKvCache(gpu, cache);
  }
  return out;
}
