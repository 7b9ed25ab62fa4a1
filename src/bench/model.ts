// The model the train and decode scenarios run: SmolLM2-135M's layer shape (hidden 576,
// intermediate 1536, 9 heads / 3 kv heads of 64, tied embeddings) with fewer layers and the test
// tokenizer's small vocabulary, random weights, stored as f16 on the GPU. No download, no files.
// Dimension key: V = vocab, H = hidden, I = intermediate, nH/nKV = heads, D = head dim, L = layers.

import { memoryFiles } from '../formats/byte-source.ts';
import type { Gpu } from '../gpu/device.ts';
import { type LoadedModel, loadModel } from '../model/model.ts';
import { modelParams } from '../model/params.ts';
import { makeTestModel, testTokenizerSize } from '../model/test-model.ts';
import type { BenchModelReport } from './report.ts';
import { QUICK_SHAPE, SMOLLM2_135M } from './shapes.ts';

export interface BenchModelOptions {
  quick: boolean;
  /** Decoder layers (SmolLM2-135M has 30). */
  layers: number;
  /** Vocabulary rows of the embedding / LM head; default the test tokenizer's (SmolLM2 has 49152). */
  vocab?: number;
  /** Longest sequence the model is built for. */
  maxPositions: number;
}

export interface BenchModel {
  model: LoadedModel;
  report: BenchModelReport;
  /** The model folder it was loaded from (config, tokenizer, safetensors), for the TensorFlow.js peer. */
  files: Map<string, Uint8Array>;
}

export async function loadBenchModel(gpu: Gpu, o: BenchModelOptions): Promise<BenchModel> {
  const s = o.quick ? QUICK_SHAPE : SMOLLM2_135M;
  const vocab = o.vocab ?? Math.ceil(testTokenizerSize() / 4) * 4;
  const files = makeTestModel({
    architecture: 'llama',
    dtype: 'F16',
    init: 'pretrain',
    hiddenSize: s.H,
    intermediateSize: s.I,
    numHeads: s.nH,
    numKvHeads: s.nKV,
    headDim: s.D,
    numLayers: o.layers,
    vocabSize: vocab,
    tied: true,
    maxPositionEmbeddings: o.maxPositions,
  });
  const model = await loadModel(gpu, memoryFiles(`bench-${s.name}`, files), { precision: 'auto' });
  const cfg = model.cfg;
  const params = modelParams(cfg).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  return {
    model,
    files,
    report: {
      name: `${s.name}-shaped, ${cfg.numLayers} layer${cfg.numLayers === 1 ? '' : 's'}, vocab ${cfg.vocabSize}`,
      basedOn: o.quick
        ? 'a small shape for --quick'
        : cfg.numLayers === 30 && cfg.vocabSize === 49152
          ? 'SmolLM2-135M, full shape (random weights)'
          : 'SmolLM2-135M (30 layers, vocab 49152) with fewer layers and/or a smaller vocabulary, random weights',
      layers: cfg.numLayers,
      hidden: cfg.hiddenSize,
      intermediate: cfg.intermediateSize,
      heads: cfg.numHeads,
      kvHeads: cfg.numKvHeads,
      headDim: cfg.headDim,
      vocab: cfg.vocabSize,
      tiedEmbeddings: cfg.tieWordEmbeddings,
      weightDtype: model.weights.dtype,
      weightBytes: model.weights.bytes,
      params,
    },
  };
}
