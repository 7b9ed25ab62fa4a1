// The form's guidance: each warning shows when its mistake is made, and not otherwise.

import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/model/config.ts';
import { configGuidance, type GuidanceInput } from '../../src/ui/config-guidance.ts';

const CFG = parseModelConfig(JSON.stringify({
  architectures: ['LlamaForCausalLM'], hidden_size: 128, intermediate_size: 320, num_hidden_layers: 3, num_attention_heads: 4,
  num_key_value_heads: 2, head_dim: 32, vocab_size: 1024, tie_word_embeddings: true,
}));
const MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

const input = (s: Partial<GuidanceInput['settings']> = {}, o: Partial<GuidanceInput> = {}): GuidanceInput => ({
  settings: { rank: 8, lr: 1e-3, targets: ['q_proj', 'v_proj'], steps: 40, warmup: 0, seqLen: 128, ...s },
  trainableParameters: 10_000,
  modules: MODULES,
  cfg: CFG,
  maxPositions: 256,
  ...o,
});
const texts = (g: GuidanceInput) => configGuidance(g).map((x) => `${x.level}: ${x.text}`);

describe('configGuidance', () => {
  it('says nothing about sensible settings', () => {
    expect(texts(input())).toEqual([]);
  });

  it('flags learning rates far outside LoRA practice', () => {
    expect(texts(input({ lr: 0.05 }))).toEqual([expect.stringMatching(/^warning: Learning rate 0.05 is unusually high/)]);
    expect(texts(input({ lr: 1e-6 }))).toEqual([expect.stringMatching(/^warning: Learning rate 0.000001 is unusually low/)]);
    expect(texts(input({ lr: 1e-2 }))).toEqual([]);
  });

  it('warns of a high rank only when the dataset size is known and small', () => {
    expect(texts(input({ rank: 64 }, { trainableParameters: 500_000 }))).toEqual([]);
    const w = texts(input({ rank: 64 }, { trainableParameters: 500_000, datasetTokens: 40_000 }));
    expect(w).toHaveLength(1);
    // 500,000 / 64 per rank: rank 4 gives 31,250 <= 40,000 tokens, rank 8 would not.
    expect(w[0]).toMatch(/^warning: Rank 64 is high for this dataset: 500,000 trainable parameters for 40,000 training tokens.*Try rank 4/);
    expect(texts(input({ rank: 64 }, { trainableParameters: 500_000, datasetTokens: 5_000_000 }))).toEqual([]);
    // Ranks up to 16 are the usual range: no warning even on a small dataset.
    expect(texts(input({ rank: 16 }, { trainableParameters: 500_000, datasetTokens: 40_000 }))).toEqual([]);
  });

  it('warns when embeddings or the LM head are targeted, and only then', () => {
    expect(texts(input({ targets: ['q_proj', 'lm_head'] }))).toEqual([expect.stringMatching(/^warning: lm_head is targeted/)]);
    expect(texts(input({ targets: ['q_proj', 'embed_tokens', 'lm_head'] }))).toEqual([expect.stringMatching(/^warning: embed_tokens and lm_head are targeted/)]);
  });

  it('stops runs that cannot start', () => {
    expect(texts(input({ targets: [] }))).toEqual([expect.stringMatching(/^error: No target module is selected/)]);
    // k_proj is [64, 128]: rank 65 does not fit it.
    expect(texts(input({ rank: 65, targets: ['k_proj'] }))).toEqual([expect.stringMatching(/^error: Rank 65 is larger than k_proj allows.*at most 64/)]);
  });

  it('notes a warmup as long as the run and rows longer than the model reads', () => {
    expect(texts(input({ warmup: 40 }))).toEqual([expect.stringMatching(/^warning: Warmup \(40 steps\) covers the whole run/)]);
    expect(texts(input({ warmup: 40, steps: 0 }))).toEqual([]);
    expect(texts(input({ seqLen: 1024 }))).toEqual([expect.stringMatching(/^warning: This model reads at most 256 positions/)]);
  });
});
