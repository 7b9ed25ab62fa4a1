// The gradient of the evaluation loss (mean over every target token of the data, dropout off) with
// respect to every trainable tensor: what `tabtune grads` writes and the tests check.
// Dimension key: r = rank, r4 = rank padded to 4, in/out = a layer's features.

import { readBuffer } from '../gpu/recorder.ts';
import { readUnpadded } from '../lora/gpu-lora.ts';
import { IGNORE_INDEX, lossesFromState } from '../kernels/cross-entropy.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import { checkRow, type TokenRow } from '../model/evaluate.ts';
import type { LoadedModel } from '../model/model.ts';
import { batchTargets, microStep } from './graph.ts';
import type { Trainable } from './trainable.ts';

export async function datasetGradients(
  model: LoadedModel,
  train: Trainable,
  data: TokenRow[],
  o: { seqLen: number; batchSize: number; /** Recompute each layer in backward (default true); the gradients are the same either way. */ checkpointing?: boolean },
): Promise<{ loss: number; tokens: number }> {
  data.forEach((r, i) => checkRow(model, r, i));
  const rows = data.map((r) => ({ ids: r.inputIds.slice(0, o.seqLen), labels: (r.labels ?? r.inputIds).slice(0, o.seqLen), positionIds: r.positionIds }));
  const batches = [];
  for (let i = 0; i < rows.length; i += o.batchSize) {
    const picked = rows.slice(i, i + o.batchSize);
    batches.push(batchTargets(picked, Math.max(2, ...picked.map((r) => r.ids.length))));
  }
  const tokens = batches.reduce((s, b) => s + b.targets.filter((t) => t !== IGNORE_INDEX).length, 0);
  model.lora = train.lora;
  const gpu = model.gpu;
  let sum = 0;
  for (const b of batches) {
    const r = microStep(model, train, b, { lossScale: tokens ? 1 / tokens : 0, dropout: 0, dropoutSeed: 0, checkpointing: o.checkpointing ?? true });
    sum += lossesFromState(new Float32Array(await readBuffer(gpu, r.state, 0, b.B * b.T * 16)), b.targets).sum;
    gpu.pool.release(r.state);
  }
  return { loss: tokens ? sum / tokens : NaN, tokens };
}

/** dA: [r, in] and dB: [out, r] per module, without the rank padding. */
export async function readLoraGrads(model: LoadedModel, train: Trainable, shapes: LoraWeights): Promise<Map<string, { a: Float32Array; b: Float32Array }>> {
  const out = new Map<string, { a: Float32Array; b: Float32Array }>();
  for (const [name, g] of train.loraGrads) out.set(name, await readUnpadded(model.gpu, g.a, g.b, shapes.modules.get(name)!));
  return out;
}
