// Scenario "decode": greedy generation with the KV cache (src/model/generate.ts) on the bench model,
// without an adapter. The first token's time is the prompt's prefill; every later token is one
// forward of one token against the cache plus reading its logits back, which is the decode rate.
// EOS is ignored so that random weights cannot end a run early.

import type { LoadedModel } from '../model/model.ts';
import { generateTokens } from '../model/generate.ts';
import { seededRandom } from '../util/random.ts';
import type { BenchModel } from './model.ts';
import type { DecodeReport } from './report.ts';

export interface DecodeOptions {
  promptTokens: number;
  newTokens: number;
  onProgress?: (line: string) => void;
}

export async function runDecode(bm: BenchModel, o: DecodeOptions): Promise<DecodeReport> {
  if (o.newTokens < 2) throw new Error('decode needs at least 2 new tokens: the first one is the prefill');
  const base = bm.model;
  const model: LoadedModel = {
    ...base,
    lora: null,
    tokenizer: { ...base.tokenizer, eosTokenIds: [] },
    cfg: { ...base.cfg, eosTokenIds: [] },
  };
  const random = seededRandom(11);
  const prompt = Array.from({ length: o.promptTokens }, () => Math.floor(random() * model.cfg.vocabSize));
  // Warm-up: compiles the prefill and the one-token pipelines.
  await generateTokens(model, prompt, { maxNewTokens: 2 });
  const at: number[] = [];
  const t0 = performance.now();
  const out = await generateTokens(model, prompt, { maxNewTokens: o.newTokens, onToken: () => at.push(performance.now()) });
  if (out.length !== o.newTokens) throw new Error(`decode made ${out.length} tokens, expected ${o.newTokens}`);
  const prefillMs = at[0]! - t0;
  const msPerToken = (at[at.length - 1]! - at[0]!) / (at.length - 1);
  o.onProgress?.(`decode: prefill ${prefillMs.toFixed(0)} ms for ${o.promptTokens} tokens, ${msPerToken.toFixed(1)} ms/token`);
  return {
    model: bm.report,
    promptTokens: o.promptTokens,
    newTokens: o.newTokens,
    prefillMs,
    msPerToken,
    tokensPerSecond: 1000 / msPerToken,
  };
}
