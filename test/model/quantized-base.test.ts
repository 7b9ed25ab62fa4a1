// A quantized base, whole-model: a GGUF in each block format (made by ggml's own quantizer) computes
// the logits, loss and every LoRA gradient of the model whose weights are its dequantized values
// (QLoRA's semantics: exact with respect to the dequantized weights), checked against the float64
// reference; --base-weights quantizes a safetensors checkpoint on load the same way ggml does.

import { describe, expect, it } from 'vitest';
import { bytesSource, memoryFiles, type ModelFiles } from '../../src/formats/byte-source.ts';
import { openCheckpoint, readTensorF32 } from '../../src/formats/checkpoint.ts';
import { ggufModelFiles } from '../../src/formats/gguf-model.ts';
import { writeSafetensors } from '../../src/formats/safetensors-write.ts';
import { isQuantDtype } from '../../src/kernels/weights.ts';
import { destroyModel, loadModel } from '../../src/model/model.ts';
import { loadReferenceWeights, referenceLogits } from '../../src/model/reference.ts';
import { referenceLoraGrads } from '../../src/model/reference-grad.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import { QUANT_TYPES, type QuantType } from '../../src/quant/ggml-types.ts';
import { datasetGradients, readLoraGrads } from '../../src/train/gradients.ts';
import { loraTrainable } from '../../src/train/trainable.ts';
import { hfFolderToGguf } from '../helpers/gguf-model.ts';
import { testGpu } from '../helpers/gpu.ts';
import { randomLora } from '../helpers/lora.ts';
import { engineLogits } from '../helpers/model.ts';

// Widths that are whole K-quant super-blocks (256), as real models' are.
const SHAPE: TestModelOptions = { architecture: 'llama', hiddenSize: 256, intermediateSize: 512, numHeads: 4, numKvHeads: 2, numLayers: 2, dtype: 'F32' };

const ROWS = [
  { inputIds: [5, 17, 200, 33, 9, 120, 64, 3, 77, 12, 301] },
  { inputIds: [40, 41, 42, 43, 44, 45, 46], labels: [-100, -100, -100, 43, 44, 45, 46] },
];

function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  let m = 1e-12;
  for (let i = 0; i < want.length; i++) {
    e = Math.max(e, Math.abs(got[i]! - want[i]!));
    m = Math.max(m, Math.abs(want[i]!));
  }
  return e / m;
}

/** The model a GGUF describes, as a float32 Hugging Face folder of its dequantized weights. */
async function dequantizedFolder(gguf: ModelFiles, hf: Map<string, Uint8Array>): Promise<Map<string, Uint8Array>> {
  const ckpt = await openCheckpoint(gguf);
  const tensors = [];
  for (const t of ckpt.tensors.values()) tensors.push({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: new Uint8Array((await readTensorF32(t)).buffer) });
  const out = new Map([...hf].filter(([n]) => !n.endsWith('.safetensors') && !n.endsWith('.index.json')));
  out.set('model.safetensors', writeSafetensors(tensors));
  return out;
}

const asGguf = (bytes: Uint8Array, hf: Map<string, Uint8Array>) =>
  ggufModelFiles(bytesSource('model.gguf', bytes), memoryFiles('folder', new Map([...hf].filter(([n]) => n.startsWith('tokenizer')))));

describe('a quantized base', () => {
  it.each(QUANT_TYPES.map((t) => [t]))('%s: logits, loss and every LoRA gradient equal the float64 reference on its dequantized weights', async (type: QuantType) => {
    const gpu = await testGpu();
    const hf = makeTestModel({ ...SHAPE, seed: 40 + QUANT_TYPES.indexOf(type) });
    const gguf = asGguf(await hfFolderToGguf(hf, { typeOf: () => type }), hf);
    const model = await loadModel(gpu, gguf);
    try {
      // Every matrix stays in its block format on the GPU, and the plan counts those bytes.
      expect(model.weights.dtypes).toEqual({ [type]: 2 * 7 + 2 });
      expect(model.weights.embed.dtype).toBe(type);
      const deq = await dequantizedFolder(gguf, hf);
      const ref = loadReferenceWeights(deq);
      const tokens = ROWS[0]!.inputIds;
      expect(relError(await engineLogits(model, tokens), referenceLogits(model.cfg, ref, tokens))).toBeLessThan(1e-4);

      const { weights, ref: refLora } = randomLora(model.cfg, 3, 1.5, 7);
      const trainable = loraTrainable(gpu, weights);
      const got = await datasetGradients(model, trainable, ROWS, { seqLen: 64, batchSize: 2 });
      const grads = await readLoraGrads(model, trainable, weights);
      const want = referenceLoraGrads(model.cfg, ref, ROWS, refLora);
      expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(1e-5);
      const report: string[] = [];
      for (const [module, g] of grads) {
        for (const [which, gg, ww] of [['A', g.a, want.gradA.get(module)!], ['B', g.b, want.gradB.get(module)!]] as const) {
          const e = relError(gg, ww);
          if (e > 1e-3) report.push(`${module}.lora_${which}: relative error ${e.toExponential(2)}`);
        }
      }
      expect(grads.size).toBe(model.cfg.numLayers * 7);
      expect(report, report.join('\n')).toEqual([]);
    } finally {
      destroyModel(model);
    }
  });

  it.each([['q8_0', 'Q8_0'], ['q4_0', 'Q4_0'], ['q4_k', 'Q4_K']] as const)('--base-weights %s quantizes a safetensors checkpoint on load as ggml does', async (precision, type) => {
    const gpu = await testGpu();
    const hf = makeTestModel({ ...SHAPE, dtype: 'BF16', seed: 60 });
    const model = await loadModel(gpu, memoryFiles('hf', hf), { precision });
    // The same model as a GGUF whose tensors ggml quantized: identical logits.
    const gguf = await loadModel(gpu, asGguf(await hfFolderToGguf(hf, { typeOf: () => type }), hf));
    try {
      expect(model.weights.dtypes).toEqual({ [type]: 2 * 7 + 2 });
      const tokens = ROWS[0]!.inputIds;
      expect(relError(await engineLogits(model, tokens), await engineLogits(gguf, tokens))).toBe(0);
      expect(isQuantDtype(model.weights.lmHead.dtype)).toBe(true);
    } finally {
      destroyModel(model);
      destroyModel(gguf);
    }
  });

  it('falls back to a smaller block when rows are not whole Q4_K super-blocks', async () => {
    const gpu = await testGpu();
    const hf = makeTestModel({ ...SHAPE, hiddenSize: 96, intermediateSize: 160, numHeads: 2, numKvHeads: 2, seed: 61 });
    const model = await loadModel(gpu, memoryFiles('hf', hf), { precision: 'q4_k' });
    try {
      // 96 and 160 are multiples of 32, not of 256: Q4_1 everywhere.
      expect(model.weights.dtypes).toEqual({ Q4_1: 2 * 7 + 2 });
    } finally {
      destroyModel(model);
    }
  });
});
