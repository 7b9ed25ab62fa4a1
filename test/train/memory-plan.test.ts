// planTrainingMemory's 'auto' checkpointing: recompute layers only when keeping their activations
// would not fit the budget (and always when no budget is known and there is more than one layer).

import { describe, expect, it } from 'vitest';
import { DEFAULT_LORA } from '../../src/lora/config.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { planTrainingMemory } from '../../src/train/memory-plan.ts';

const cfg = parseModelConfig(JSON.stringify({
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_attention_heads: 4,
  num_key_value_heads: 2, num_hidden_layers: 4, vocab_size: 100, max_position_embeddings: 256, rms_norm_eps: 1e-5, tie_word_embeddings: true,
}), 'config.json');

describe('memory plan, checkpointing auto', () => {
  const base = { weightBytes: 1_000_000, lora: DEFAULT_LORA, B: 2, T: 128 };
  const on = planTrainingMemory(cfg, { ...base, checkpointing: 'on' });
  const off = planTrainingMemory(cfg, { ...base, checkpointing: 'off' });

  it('keeping every layer costs more than recomputing', () => {
    expect(on.checkpointing).toBe(true);
    expect(off.checkpointing).toBe(false);
    expect(off.total).toBeGreaterThan(on.total);
    expect(off.weights + off.trainable).toBe(on.weights + on.trainable);
  });

  it('keeps the activations when they fit the budget, and recomputes when they do not', () => {
    expect(planTrainingMemory(cfg, { ...base, checkpointing: 'auto', budget: off.total })).toEqual(off);
    expect(planTrainingMemory(cfg, { ...base, checkpointing: 'auto', budget: off.total - 1 })).toEqual(on);
    expect(planTrainingMemory(cfg, { ...base, checkpointing: 'auto', budget: 1 })).toEqual(on);
  });

  it('recomputes without a budget, except for a single layer', () => {
    expect(planTrainingMemory(cfg, { ...base, checkpointing: 'auto' })).toEqual(on);
    const one = { ...cfg, numLayers: 1 };
    expect(planTrainingMemory(one, { ...base, checkpointing: 'auto' }).checkpointing).toBe(false);
  });

  it('on and off ignore the budget', () => {
    expect(planTrainingMemory(cfg, { ...base, checkpointing: 'on', budget: 1e12 })).toEqual(on);
    expect(planTrainingMemory(cfg, { ...base, checkpointing: 'off', budget: 1 })).toEqual(off);
  });
});
