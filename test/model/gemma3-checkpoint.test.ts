// Gemma 3 checkpoints against the parameter table: a Gemma3ForConditionalGeneration folder's text
// model is found under either naming scheme (vision tower and projector skipped), a folder mixing
// both schemes is refused naming both tensors, and Gemma's tensors under another architecture's
// config are refused naming the tensor.

import { describe, expect, it } from 'vitest';
import { bytesSource, memoryFiles } from '../../src/formats/byte-source.ts';
import { languageModelView, openCheckpoint } from '../../src/formats/checkpoint.ts';
import { TensorError } from '../../src/formats/errors.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { modelParams } from '../../src/model/params.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import { planWeights } from '../../src/model/weights.ts';

const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
const O: TestModelOptions = { architecture: 'gemma3', numLayers: 2, dtype: 'BF16' };

async function tensorsOf(bytes: Uint8Array): Promise<TensorToWrite[]> {
  const h = await readSafetensorsHeader(bytesSource('x', bytes));
  return [...h.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype as 'BF16', shape: t.shape, data: bytes.slice(t.byteOffset, t.byteOffset + t.byteLength) }));
}

describe('Gemma3ForConditionalGeneration checkpoints', () => {
  it.each([
    ['old', 'language_model.model.layers.0.self_attn.q_proj.weight'],
    ['new', 'model.language_model.layers.0.self_attn.q_proj.weight'],
  ] as const)('%s names: the text model under plain names, each keeping its name in the file; the vision tower left out', async (form, qName) => {
    const files = makeTestModel({ ...O, multimodal: form });
    const ckpt = await openCheckpoint(memoryFiles('gemma-mm', files));
    expect([...ckpt.tensors.keys()].some((n) => n.includes('vision_tower'))).toBe(true);
    const view = languageModelView(ckpt);
    const cfg = parseModelConfig(text(files.get('config.json')));
    expect([...view.tensors.keys()].sort()).toEqual(modelParams(cfg).map((p) => p.name).sort());
    expect(view.tensors.get('model.layers.0.self_attn.q_proj.weight')!.fileName).toBe(qName);
    // The plan is the plain model's.
    const plain = makeTestModel(O);
    const want = planWeights(parseModelConfig(text(plain.get('config.json'))), await openCheckpoint(memoryFiles('gemma', plain)), 'auto');
    const got = planWeights(cfg, ckpt, 'auto');
    expect(got.bytes).toBe(want.bytes);
    expect(got.tensors.map((t) => t.name)).toEqual(want.tensors.map((t) => t.name));
  });

  it('refuses a folder holding the same text tensor under both schemes, naming both', async () => {
    const files = makeTestModel({ ...O, multimodal: 'new' });
    const tensors = await tensorsOf(files.get('model.safetensors')!);
    const dup = tensors.find((t) => t.name === 'model.language_model.norm.weight')!;
    files.set('model.safetensors', writeSafetensors([...tensors, { ...dup, name: 'language_model.model.norm.weight' }]));
    const ckpt = await openCheckpoint(memoryFiles('gemma-mm', files));
    expect(() => languageModelView(ckpt)).toThrow(TensorError);
    expect(() => languageModelView(ckpt)).toThrow(/"language_model\.model\.norm\.weight" holds the text model's "model\.norm\.weight", as "model\.language_model\.norm\.weight" does/);
  });

  it('names the file\'s own tensor when its shape is wrong', async () => {
    const files = makeTestModel({ ...O, multimodal: 'old' });
    const tensors = await tensorsOf(files.get('model.safetensors')!);
    files.set('model.safetensors', writeSafetensors(tensors.map((t) => (t.name === 'language_model.model.layers.1.mlp.up_proj.weight' ? { ...t, shape: [t.shape[1]!, t.shape[0]!] } : t))));
    const cfg = parseModelConfig(text(files.get('config.json')));
    const ckpt = await openCheckpoint(memoryFiles('gemma-mm', files));
    expect(() => planWeights(cfg, ckpt, 'auto')).toThrow(/tensor "language_model\.model\.layers\.1\.mlp\.up_proj\.weight" has shape \[32, 64\]/);
  });
});

describe("Gemma's tensors under another config", () => {
  it('refuses pre/post feed-forward norms and q/k norms that a Llama config does not have', async () => {
    const files = makeTestModel(O);
    const llama = JSON.parse(text(makeTestModel({ architecture: 'llama', numLayers: 2, tied: true }).get('config.json'))) as Record<string, unknown>;
    const ckpt = await openCheckpoint(memoryFiles('gemma', files));
    const cfg = parseModelConfig(JSON.stringify({ ...llama, head_dim: 8 }));
    expect(() => planWeights(cfg, ckpt, 'auto')).toThrow(/is a q\/k norm, which LlamaForCausalLM does not have|is one of Gemma's norms around the MLP/);
  });
});
