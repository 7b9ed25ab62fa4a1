// A model's facts for people: what it is, how big, how it sits on the GPU.

import type { ModelConfig } from './config.ts';
import type { LoadedModel } from './model.ts';
import { LINEAR_MODULES, type LinearModule, modelParams } from './params.ts';

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
  /** The LoRA-targetable linear modules this model has, e.g. q_proj; the form offers only these. */
  linearModules: LinearModule[];
  /** The parsed config (plain data), so the main thread can estimate costs without the GPU. */
  config: ModelConfig;
}

export function modelInfo(m: LoadedModel): ModelInfo {
  const params = modelParams(m.cfg);
  const parameters = params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
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
    linearModules: LINEAR_MODULES.filter((mod) => params.some((p) => p.name.endsWith(`.${mod}.weight`))),
    config: m.cfg,
  };
}
