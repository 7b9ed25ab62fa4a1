// A model's facts for people: what it is, how big, how it sits on the GPU.

import type { LoadedModel } from './model.ts';
import { modelParams } from './params.ts';

export interface ModelInfo {
  name: string;
  architecture: string;
  parameters: number;
  layers: number;
  hiddenSize: number;
  vocabSize: number;
  /** How frozen matrices are stored on the GPU. */
  weightDtype: string;
  /** Checkpoint dtype as config.json states it. */
  checkpointDtype: string | null;
  weightBytes: number;
  maxPositions: number;
}

export function modelInfo(m: LoadedModel): ModelInfo {
  const parameters = modelParams(m.cfg).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  return {
    name: m.name,
    architecture: m.cfg.hfArchitecture,
    parameters,
    layers: m.cfg.numLayers,
    hiddenSize: m.cfg.hiddenSize,
    vocabSize: m.cfg.vocabSize,
    weightDtype: m.weights.dtype,
    checkpointDtype: m.cfg.torchDtype,
    weightBytes: m.weights.bytes,
    maxPositions: m.maxPositions,
  };
}
