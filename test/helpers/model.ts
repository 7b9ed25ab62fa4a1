// Loads a generated test model on the GPU and computes per-position logits through the engine.

import { memoryFiles } from '../../src/formats/byte-source.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { uploadBuffer } from '../../src/gpu/recorder.ts';
import { allocKvCache, encodeForward, releaseKvCache } from '../../src/model/forward.ts';
import { rowLogits } from '../../src/model/lm-head.ts';
import { forwardContext, type LoadedModel, loadModel } from '../../src/model/model.ts';
import { type TestModelOptions, makeTestModel } from '../../src/model/test-model.ts';
import type { WeightPrecision } from '../../src/model/weights.ts';

export async function loadTestModel(gpu: Gpu, o: TestModelOptions, precision: WeightPrecision = 'auto') {
  const files = makeTestModel(o);
  const model = await loadModel(gpu, memoryFiles(`test-${o.architecture}`, files), { precision });
  return { files, model };
}

/** logits: [T, V] for one sequence, row by row from the engine's final hidden states. */
export async function engineLogits(model: LoadedModel, tokens: number[]): Promise<Float64Array> {
  const gpu = model.gpu;
  const T = tokens.length;
  const V = model.cfg.vocabSize;
  const ids = uploadBuffer(gpu, Uint32Array.from(tokens), 'ids');
  const cache = allocKvCache(gpu, model.cfg, 1, T);
  const hidden = encodeForward(forwardContext(model), { ids, B: 1, T, p0: 0, cache });
  const out = new Float64Array(T * V);
  for (let t = 0; t < T; t++) out.set(await rowLogits(gpu, model.weights.lmHead, hidden, t, model.cfg.finalLogitSoftcap), t * V);
  for (const b of [ids, hidden]) gpu.pool.release(b);
  releaseKvCache(gpu, cache);
  return out;
}
