// The cost estimate the app shows before a run: trainable counts equal what initLora really builds,
// memory terms add up and agree with planTrainingMemory (the engine's one memory model), and the file
// sizes equal what the PEFT and full-checkpoint writers produce.

import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { peftAdapterFiles } from '../../src/formats/peft-write.ts';
import { ADAPTER_WEIGHTS } from '../../src/formats/peft.ts';
import { initLora } from '../../src/lora/config.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { modelParams } from '../../src/model/params.ts';
import { type CostColumn, checkFit, estimateTrainingCost, largestFitting, loraConfigOf } from '../../src/train/cost.ts';
import { planTrainingMemory } from '../../src/train/memory-plan.ts';

const config = (o: Record<string, unknown>) => parseModelConfig(JSON.stringify(o));

// The bundled demo model (public/models/kjv-llama/config.json).
const DEMO = config({
  architectures: ['LlamaForCausalLM'], hidden_size: 128, intermediate_size: 320, num_hidden_layers: 3, num_attention_heads: 4,
  num_key_value_heads: 2, head_dim: 32, vocab_size: 1024, max_position_embeddings: 256, tie_word_embeddings: true,
});
// HuggingFaceTB/SmolLM2-135M: PEFT reports 4,884,480 trainable parameters for r=16 on all linear layers.
const SMOLLM2 = config({
  architectures: ['LlamaForCausalLM'], hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9,
  num_key_value_heads: 3, vocab_size: 49152, max_position_embeddings: 8192, tie_word_embeddings: true,
});
// Qwen/Qwen2.5-0.5B: q/k/v carry biases, which LoRA leaves frozen.
const QWEN = config({
  architectures: ['Qwen2ForCausalLM'], hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, vocab_size: 151936, max_position_embeddings: 32768, tie_word_embeddings: true,
});

const ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const settings = (o: Partial<{ rank: number; dropout: number; targets: string[]; batchSize: number; seqLen: number }> = {}) => ({
  rank: 8, dropout: 0, targets: ALL, batchSize: 4, seqLen: 128, ...o,
});

const realCount = (cfg: ReturnType<typeof config>, s: ReturnType<typeof settings>) =>
  [...initLora(cfg, loraConfigOf(s), 0).modules.values()].reduce((n, m) => n + m.a.length + m.b.length, 0);

const sumOf = (c: CostColumn) => c.weights + c.gradients + c.optimizer + c.activations;

describe('estimateTrainingCost', () => {
  it.each([
    { name: 'demo, r=8, all linear', cfg: DEMO, s: settings() },
    { name: 'demo, r=3, q/v', cfg: DEMO, s: settings({ rank: 3, targets: ['q_proj', 'v_proj'] }) },
    { name: 'SmolLM2-135M, r=16, all linear', cfg: SMOLLM2, s: settings({ rank: 16 }) },
    { name: 'Qwen2.5-0.5B, r=16, attention', cfg: QWEN, s: settings({ rank: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] }) },
  ])('$name: the LoRA count is what initLora builds', ({ cfg, s }) => {
    expect(estimateTrainingCost(cfg, s, { weightBytesPerElement: 2 }).lora.trainableParameters).toBe(realCount(cfg, s));
  });

  it('matches the count PEFT reports for SmolLM2-135M', () => {
    expect(estimateTrainingCost(SMOLLM2, settings({ rank: 16 }), { weightBytesPerElement: 2 }).lora.trainableParameters).toBe(4_884_480);
  });

  it('counts every parameter for full fine-tuning', () => {
    const all = modelParams(QWEN).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(estimateTrainingCost(QWEN, settings(), { weightBytesPerElement: 2 }).full.trainableParameters).toBe(all);
  });

  it.each([
    { cfg: DEMO, s: settings({ dropout: 0.1, rank: 6 }), checkpointing: 'on' as const },
    { cfg: SMOLLM2, s: settings({ batchSize: 8, seqLen: 512 }), checkpointing: 'off' as const },
    { cfg: QWEN, s: settings({ rank: 32, targets: ['q_proj', 'v_proj'] }), checkpointing: 'auto' as const },
  ])('terms add up to the total and agree with planTrainingMemory (checkpointing $checkpointing)', ({ cfg, s, checkpointing }) => {
    const est = estimateTrainingCost(cfg, s, { weightBytesPerElement: 2, checkpointing });
    const params = modelParams(cfg).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    const common = { B: s.batchSize, T: s.seqLen, checkpointing };
    const lp = planTrainingMemory(cfg, { ...common, weightBytes: params * 2, lora: loraConfigOf(s) });
    const fp = planTrainingMemory(cfg, { ...common, weightBytes: params * 2, lora: null });
    for (const [c, p] of [[est.lora, lp], [est.full, fp]] as const) {
      expect(sumOf(c)).toBe(c.total);
      expect(c.total).toBe(p.total);
      expect(c.activations).toBe(p.activations);
      expect(c.gradients + c.optimizer).toBe((p.trainable * 3) / 4);
      expect(c.optimizer).toBe(2 * c.gradients);
      expect(c.checkpointing).toBe(p.checkpointing);
    }
    // LoRA keeps the frozen 16-bit base; full fine-tuning's f32 master copy is its weights.
    expect(est.lora.weights).toBe(params * 2 + est.lora.gradients);
    expect(est.full.weights).toBe(params * 4);
    expect(est.full.gradients).toBe(params * 4);
    expect(est.full.optimizer).toBe(params * 8);
    expect(est.full.total).toBeGreaterThan(est.lora.total);
  });

  it('uses the exact weight size when given and cuts rows to maxPositions', () => {
    const a = estimateTrainingCost(DEMO, settings({ seqLen: 10_000 }), { weightBytesPerElement: 2, weightBytes: 1_000_000, maxPositions: 256 });
    const b = estimateTrainingCost(DEMO, settings({ seqLen: 256 }), { weightBytesPerElement: 2, weightBytes: 1_000_000 });
    expect(a.seqLen).toBe(256);
    expect(a.lora).toEqual(b.lora);
    expect(a.lora.weights - a.lora.gradients).toBe(1_000_000);
  });

  it('leaves unknown targets out, and no targets cost no adapter', () => {
    const est = estimateTrainingCost(DEMO, settings({ targets: ['q_proj', 'lm_head'] }), { weightBytesPerElement: 2 });
    expect(est.targets).toEqual(['q_proj']);
    const none = estimateTrainingCost(DEMO, settings({ targets: [] }), { weightBytesPerElement: 2 });
    expect(none.lora.trainableParameters).toBe(0);
    expect(none.lora.fileBytes).toBe(0);
    expect(none.lora.gradients).toBe(0);
  });

  it('predicts the adapter and full checkpoint files byte for byte', () => {
    for (const s of [settings(), settings({ rank: 5, targets: ['k_proj', 'down_proj'] })]) {
      const lc = loraConfigOf(s);
      const written = peftAdapterFiles(lc, initLora(DEMO, lc, 1), 'demo').get(ADAPTER_WEIGHTS)!;
      expect(estimateTrainingCost(DEMO, s, { weightBytesPerElement: 2 }).lora.fileBytes).toBe(written.byteLength);
    }
    const tensors = modelParams(DEMO).map((p) => ({
      name: p.name, dtype: 'F32' as const, shape: p.shape, data: new Uint8Array(p.shape.reduce((a, b) => a * b, 1) * 4),
    }));
    expect(estimateTrainingCost(DEMO, settings(), { weightBytesPerElement: 2 }).full.fileBytes).toBe(writeSafetensors(tensors).byteLength);
  });

  it('finds the largest batch size and sequence length that fit', () => {
    const s = settings({ batchSize: 4096, seqLen: 256 });
    const o = { weightBytesPerElement: 2, maxPositions: 256 };
    const lim = { bufferBytes: 128 * 2 ** 20, budgetBytes: 2 ** 30 };
    expect(checkFit(estimateTrainingCost(DEMO, s, o).lora, lim).fits).toBe(false);
    const b = largestFitting(DEMO, s, o, lim, 'batchSize');
    expect(b).toBeGreaterThan(0);
    expect(checkFit(estimateTrainingCost(DEMO, { ...s, batchSize: b }, o).lora, lim).fits).toBe(true);
    expect(checkFit(estimateTrainingCost(DEMO, { ...s, batchSize: b + 1 }, o).lora, lim).fits).toBe(false);
    const t = largestFitting(DEMO, { ...s, batchSize: 1024 }, o, lim, 'seqLen');
    expect(checkFit(estimateTrainingCost(DEMO, { ...s, batchSize: 1024, seqLen: t }, o).lora, lim).fits).toBe(true);
    expect(checkFit(estimateTrainingCost(DEMO, { ...s, batchSize: 1024, seqLen: t + 1 }, o).lora, lim).fits).toBe(false);
    expect(largestFitting(DEMO, s, o, { bufferBytes: 1, budgetBytes: 1 }, 'batchSize')).toBe(0);
  });
});
