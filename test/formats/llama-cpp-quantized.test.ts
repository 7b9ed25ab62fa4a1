// The real client: llama.cpp (node-llama-cpp's prebuilt) loads a GGUF base quantized by ggml's own
// code, plus the GGUF LoRA tabtune writes for it, and its next-token distributions match tabtune's
// on the same file within llama.cpp's own quantization noise (its CPU matmuls round activations to
// 8 bits for quantized weights). The adapter moves the distribution far more than that noise, so a
// wrongly permuted or scaled adapter fails. The merged GGUF (tabtune merge --format gguf) is checked
// the same way.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getLlama, type Llama, LlamaLogLevel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryFiles } from '../../src/formats/byte-source.ts';
import { readGguf } from '../../src/formats/gguf.ts';
import { loraToGguf } from '../../src/formats/gguf-lora.ts';
import { collectFile } from '../../src/formats/merge.ts';
import { mergedGgufFile } from '../../src/formats/merge-gguf.ts';
import { ggufModelFiles } from '../../src/formats/gguf-model.ts';
import { nodeFileSource } from '../../src/formats/node-files.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { uploadLora } from '../../src/lora/gpu-lora.ts';
import { destroyModel, loadModel } from '../../src/model/model.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import type { GgmlType } from '../../src/quant/ggml-types.ts';
import { tempDir } from '../helpers/cli.ts';
import { hfFolderToGguf } from '../helpers/gguf-model.ts';
import { ggufTokenizerMetadata } from '../helpers/gguf-tokenizer-meta.ts';
import { kl, llamaCppNext, softmax } from '../helpers/llama-cpp.ts';
import { testGpu } from '../helpers/gpu.ts';
import { randomLora } from '../helpers/lora.ts';
import { engineLogits } from '../helpers/model.ts';

const SHAPE: TestModelOptions = { architecture: 'llama', hiddenSize: 256, intermediateSize: 512, numHeads: 4, numKvHeads: 2, numLayers: 2, dtype: 'F32' };
const PROMPT = [5, 17, 200, 33, 9, 120, 64, 3];

/** Q4_K_M's mix: Q6_K for attn_v, ffn_down and the output head, Q4_K elsewhere. */
const Q4_K_M = (name: string): GgmlType => (/attn_v|ffn_down|^output/.test(name) ? 'Q6_K' : 'Q4_K');


describe('llama.cpp on a quantized GGUF base with tabtune\'s GGUF LoRA', () => {
  let gpu: Gpu;
  let llama: Llama;
  beforeAll(async () => {
    gpu = await testGpu();
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.disabled });
  });
  afterAll(async () => {
    await llama?.dispose();
  });



  it.each([
    ['Q4_K_M mix', Q4_K_M],
    ['Q8_0', () => 'Q8_0' as const],
    ['Q5_0 with Q3_K', (n: string) => (n.includes('ffn') ? 'Q3_K' : 'Q5_0') as GgmlType],
  ])('%s: the same next-token distribution as tabtune, with and without the adapter', async (_name, typeOf) => {
    const hf = makeTestModel({ ...SHAPE, seed: 70 });
    const dec = (f: string) => JSON.parse(new TextDecoder().decode(hf.get(f)!)) as Record<string, unknown>;
    const cfgJson = dec('config.json');
    const tokenizer = ggufTokenizerMetadata(dec('tokenizer.json'), dec('tokenizer_config.json'), 'gpt-2', { vocabSize: cfgJson.vocab_size as number });
    const dir = await tempDir('tabtune-llamacpp-');
    const modelPath = join(dir, 'model.gguf');
    await writeFile(modelPath, await hfFolderToGguf(hf, { typeOf, tokenizer }));

    const files = ggufModelFiles({ name: modelPath, open: () => nodeFileSource(modelPath) }, memoryFiles('none', new Map()));
    const ours = Object.assign(await loadModel(gpu, files), { files });
    try {
      const V = ours.cfg.vocabSize;
      const base = softmax((await engineLogits(ours, PROMPT)).subarray((PROMPT.length - 1) * V));
      const { weights } = randomLora(ours.cfg, 4, 2, 71, 0.15);
      const adapterPath = join(dir, 'adapter.gguf');
      await writeFile(adapterPath, loraToGguf(ours.cfg, { alpha: 8, rank: 4, rslora: false }, weights));
      ours.lora = uploadLora(gpu, weights);
      const adapted = softmax((await engineLogits(ours, PROMPT)).subarray((PROMPT.length - 1) * V));

      const cppBase = await llamaCppNext(llama, modelPath, null, PROMPT, V);
      const cppAdapted = await llamaCppNext(llama, modelPath, adapterPath, PROMPT, V);
      const figures = { base: kl(cppBase, base), adapted: kl(cppAdapted, adapted), adapterEffect: kl(adapted, base) };
      console.log(`${_name}: KL(llama.cpp || tabtune) base ${figures.base.toExponential(2)}, with adapter ${figures.adapted.toExponential(2)}; the adapter itself moves it by ${figures.adapterEffect.toExponential(2)}`);
      expect(figures.base).toBeLessThan(1e-3);
      expect(figures.adapted).toBeLessThan(1e-3);
      expect(figures.adapterEffect).toBeGreaterThan(20 * Math.max(figures.adapted, 1e-4));

      // The merged GGUF: llama.cpp loads it, untouched tensors keep their bytes, and it computes the
      // adapted model (merged tensors requantized: a little more noise than the adapter alone).
      for (const type of ['same', 'Q8_0', 'F16'] as const) {
        const merged = await mergedGgufFile(gpu, ours.files, weights, { type });
        const mergedPath = join(dir, `merged-${type}.gguf`);
        await writeFile(mergedPath, await collectFile(merged));
        const before = readGguf(await readFile(modelPath), 'model.gguf', 'compute');
        const after = readGguf(await readFile(mergedPath), 'merged.gguf', 'compute');
        expect(after.metadata.get('tokenizer.ggml.tokens')).toEqual(before.metadata.get('tokenizer.ggml.tokens'));
        for (const [i, t] of after.tensors.entries()) {
          const adaptedTensor = /attn_(q|k|v|output)\.weight|ffn_(gate|up|down)\.weight/.test(t.name);
          expect(t.type).toBe(adaptedTensor && type !== 'same' ? type : before.tensors[i]!.type);
          if (!adaptedTensor) expect(Buffer.from(t.data).equals(Buffer.from(before.tensors[i]!.data)), t.name).toBe(true);
        }
        const cppMerged = await llamaCppNext(llama, mergedPath, null, PROMPT, V);
        const d = kl(cppMerged, adapted);
        console.log(`${_name}, merged (${type}): KL(llama.cpp || tabtune with adapter) ${d.toExponential(2)}`);
        expect(d).toBeLessThan(figures.adapterEffect / 10);
      }
    } finally {
      destroyModel(ours);
    }
  });
});
