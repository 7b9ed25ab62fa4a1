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
  /** How frozen matrices are stored on the GPU (the embedding's dtype, when they differ). */
  weightDtype: string;
  /** How many frozen matrices are stored in each GPU dtype, e.g. { Q4_K: 154, Q6_K: 29 }. */
  weightDtypes: Partial<Record<string, number>>;
  /** Loaded from one GGUF file (its config made from the metadata), not a Hugging Face folder. */
  gguf: boolean;
  /** Checkpoint dtype as config.json states it. */
  checkpointDtype: string | null;
  weightBytes: number;
  maxPositions: number;
  /** The LoRA-targetable linear modules this model has, e.g. q_proj; the form offers only these. */
  linearModules: LinearModule[];
  /** The parsed config (plain data), so the main thread can estimate costs without the GPU. */
  config: ModelConfig;
}

export function modelInfo(m: LoadedModel, o: { gguf?: boolean } = {}): ModelInfo {
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
    weightDtypes: { ...m.weights.dtypes },
    gguf: o.gguf ?? false,
    checkpointDtype: m.cfg.torchDtype,
    weightBytes: m.weights.bytes,
    maxPositions: m.maxPositions,
    linearModules: LINEAR_MODULES.filter((mod) => params.some((p) => p.name.endsWith(`.${mod}.weight`))),
    config: m.cfg,
  };
}
