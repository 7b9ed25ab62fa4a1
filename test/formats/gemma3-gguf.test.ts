// Gemma 3 as llama.cpp stores it (general.architecture "gemma3"): a GGUF made from a Gemma 3 folder
// the way convert_hf_to_gguf.py makes it (norms stored as 1 + w, llama.cpp's norm names) reads back
// as the folder's config and tensors; tabtune computes the same logits from either; and llama.cpp
// itself (node-llama-cpp) gives the same next-token distribution as tabtune, with and without the
// GGUF LoRA tabtune writes for it.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getLlama, type Llama, LlamaLogLevel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { openCheckpoint, readTensorF32 } from '../../src/formats/checkpoint.ts';
import { loraToGguf } from '../../src/formats/gguf-lora.ts';
import { ggufModelFiles, ggufTensorName, hfName } from '../../src/formats/gguf-model.ts';
import { nodeFileSource } from '../../src/formats/node-files.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { uploadLora } from '../../src/lora/gpu-lora.ts';
import { readModelConfig } from '../../src/model/config.ts';
import { destroyModel, loadModel } from '../../src/model/model.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import { tempDir } from '../helpers/cli.ts';
import { ggufName, hfFolderToGguf } from '../helpers/gguf-model.ts';
import { ggufTokenizerMetadata } from '../helpers/gguf-tokenizer-meta.ts';
import { kl, llamaCppNext, softmax } from '../helpers/llama-cpp.ts';
import { testGpu } from '../helpers/gpu.ts';
import { randomLora } from '../helpers/lora.ts';
import { engineLogits } from '../helpers/model.ts';

// As llama.cpp runs Gemma 3: every 6th layer global, local RoPE base 10000, attention scaled by
// 1/sqrt(head_dim) (it ignores query_pre_attn_scalar), f32 so the embedding scale is sqrt(H) exactly.
const SHAPE: TestModelOptions = {
  architecture: 'gemma3', hiddenSize: 64, intermediateSize: 128, numHeads: 4, numKvHeads: 2, headDim: 32, numLayers: 6,
  queryPreAttnScalar: 32, slidingWindow: 4, dtype: 'F32', maxPositionEmbeddings: 128,
};
const PROMPT = [5, 17, 200, 33, 9, 120, 64, 3, 44, 7];


async function gemmaGguf(seed: number, extra: Partial<TestModelOptions> = {}) {
  const hf = makeTestModel({ ...SHAPE, seed, ...extra });
  const dec = (f: string) => JSON.parse(new TextDecoder().decode(hf.get(f)!)) as Record<string, unknown>;
  const tokenizer = ggufTokenizerMetadata(dec('tokenizer.json'), dec('tokenizer_config.json'), 'gpt-2', { vocabSize: dec('config.json').vocab_size as number });
  const dir = await tempDir('tabtune-gemma3-gguf-');
  const path = join(dir, 'gemma3.gguf');
  await writeFile(path, await hfFolderToGguf(hf, { tokenizer }));
  const files = ggufModelFiles({ name: path, open: () => nodeFileSource(path) }, memoryFiles('none', new Map()));
  return { hf: memoryFiles('hf', hf), files, path, dir };
}

describe('a Gemma 3 GGUF', () => {
  it('reads back as the folder it was made from: config, tensor names, norms (stored as 1 + w)', async () => {
    for (const extra of [{}, { ropeScaling: 'linear' as const }]) {
      const g = await gemmaGguf(3, extra);
      const a = await readModelConfig(g.hf);
      const b = await readModelConfig(g.files);
      for (const key of ['architecture', 'vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'ropeTheta', 'ropeScaling', 'slidingWindow', 'layerAttention', 'localRope', 'embedScale', 'normOffset', 'sandwichNorms', 'mlpActivation', 'attentionScale', 'tieWordEmbeddings', 'qkNorm'] as const) {
        expect(b[key], key).toEqual(a[key]);
      }
      expect(b.ggufArchitecture).toBe('gemma3');
      const hfCkpt = await openCheckpoint(g.hf);
      const ggCkpt = await openCheckpoint(g.files);
      expect([...ggCkpt.tensors.keys()].sort()).toEqual([...hfCkpt.tensors.keys()].sort());
      for (const [name, t] of hfCkpt.tensors) {
        expect(ggufTensorName(name, 'gemma3')).toBe(ggufName(name, 'gemma3'));
        expect(hfName(ggufName(name, 'gemma3'), 'gemma3')).toBe(name);
        const want = await readTensorF32(t);
        const got = await readTensorF32(ggCkpt.tensors.get(name)!);
        // (1 + w) - 1 in f32: within an ulp of 1 for norms, exact for the rest.
        const tol = /norm\.weight$/.test(name) ? 2 ** -23 : 0;
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `${name}[${i}]`).toBeLessThanOrEqual(tol);
      }
    }
  });
});

describe('llama.cpp and tabtune on the same Gemma 3 GGUF', () => {
  let gpu: Gpu;
  let llama: Llama;
  beforeAll(async () => {
    gpu = await testGpu();
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.disabled });
  });
  afterAll(async () => {
    await llama?.dispose();
  });



  it('gives the same next-token distribution, with and without tabtune\'s GGUF LoRA', async () => {
    const g = await gemmaGguf(11);
    const fromHf = await loadModel(gpu, g.hf);
    const ours = await loadModel(gpu, g.files);
    try {
      const V = ours.cfg.vocabSize;
      const logitsHf = await engineLogits(fromHf, PROMPT);
      const logits = await engineLogits(ours, PROMPT);
      let worst = 0;
      for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - logitsHf[i]!));
      expect(worst).toBeLessThan(1e-4);
      const base = softmax(logits.subarray((PROMPT.length - 1) * V));
      const { weights } = randomLora(ours.cfg, 4, 2, 12, 0.15);
      const adapterPath = join(g.dir, 'adapter.gguf');
      await writeFile(adapterPath, loraToGguf(ours.cfg, { alpha: 8, rank: 4, rslora: false }, weights));
      ours.lora = uploadLora(gpu, weights);
      const adapted = softmax((await engineLogits(ours, PROMPT)).subarray((PROMPT.length - 1) * V));

      const cppBase = await llamaCppNext(llama, g.path, null, PROMPT, V);
      const cppAdapted = await llamaCppNext(llama, g.path, adapterPath, PROMPT, V);
      const figures = { base: kl(cppBase, base), adapted: kl(cppAdapted, adapted), adapterEffect: kl(adapted, base) };
      console.log(`Gemma 3: KL(llama.cpp || tabtune) base ${figures.base.toExponential(2)}, with adapter ${figures.adapted.toExponential(2)}; the adapter moves it by ${figures.adapterEffect.toExponential(2)}`);
      expect(figures.base).toBeLessThan(1e-4);
      expect(figures.adapted).toBeLessThan(1e-4);
      expect(figures.adapterEffect).toBeGreaterThan(20 * Math.max(figures.adapted, 1e-5));
    } finally {
      destroyModel(ours);
      destroyModel(fromHf);
    }
  }, 120_000);
});
