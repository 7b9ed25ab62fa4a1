// What every model-using command shares: the GPU, the model (+ adapter) and their flags.

import { totalmem } from 'node:os';
import type { Gpu } from '../gpu/device.ts';
import { createNodeGpu } from '../gpu/node-gpu.ts';
import { tuneMatmul } from '../kernels/autotune.ts';
import { nodeTuningCache } from './tuning-cache.ts';
import { applyPeftAdapter, type LoadedModel, loadModel } from '../model/model.ts';
import { WEIGHT_PRECISIONS, type WeightPrecision } from '../model/weights.ts';
import type { ModelConfig } from '../model/config.ts';
import type { ModelFiles } from '../formats/byte-source.ts';
import { bytesArg, type Flags, optionalString, required, UsageError } from './args.ts';
import { resolveFiles } from './model-source.ts';

export const MODEL_FLAGS: Flags = {
  model: { type: 'string' },
  adapter: { type: 'string' },
  'base-weights': { type: 'string' },
  precision: { type: 'string' },
  'hub-base': { type: 'string' },
  revision: { type: 'string' },
  'gpu-memory': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export const MODEL_FLAGS_HELP = `  --model M                a Hugging Face model folder, a GGUF model file (or a folder holding one), or a
                           repo id fetched from the hub (cached): owner/name, or one of its GGUF files as
                           owner/name/file.gguf or owner/name:Q4_K_M
  --adapter DIR            a PEFT LoRA adapter folder (or a .zip of it), applied unmerged
  --base-weights T         frozen weights on the GPU: auto (default: a GGUF's own block types, else 16-bit)
                           | f16 | bf16 | f32 | q8_0 | q4_0 | q4_k (quantized on load); --precision is an alias
  --hub-base URL           hub address for repo ids (default: $TABTUNE_HUB_BASE or the Hugging Face hub)
  --revision REV           branch, tag or commit of a repo id (default main)
  --gpu-memory SIZE        memory the device may use, e.g. 8G (default: system memory on software adapters)`;

/** GPU memory is not queryable in WebGPU; on a CPU-backed adapter it is the machine's memory. */
function defaultBudget(gpu: Gpu): number | undefined {
  const env = process.env.TABTUNE_GPU_MEMORY;
  if (env) return bytesArg({ 'gpu-memory': env }, 'gpu-memory');
  const a = gpu.adapter;
  const software = a.architecture === 'software' || /llvmpipe|swiftshader/i.test(a.description);
  return software ? totalmem() : undefined;
}

export interface SessionOptions {
  maxPositions?: number;
  /** Apply --adapter for inference (default true); training commands read it themselves. */
  applyAdapter?: boolean;
  /** Overrides --precision (full fine-tuning needs f32). */
  precision?: WeightPrecision;
  /** Checks a plan against the memory budget before the weights are allocated. */
  beforeAllocate?: (cfg: ModelConfig, weightBytes: number, budget: number | undefined) => void;
}

/** --base-weights (or its older name --precision). */
export function baseWeightsArg(v: Record<string, unknown>): WeightPrecision {
  const given = optionalString(v, 'base-weights') ?? optionalString(v, 'precision');
  const flag = optionalString(v, 'base-weights') !== undefined ? '--base-weights' : '--precision';
  const value = (given ?? 'auto').toLowerCase() as WeightPrecision;
  if (!WEIGHT_PRECISIONS.includes(value)) throw new UsageError(`${flag} must be one of ${WEIGHT_PRECISIONS.join(', ')}, got "${given}"`);
  return value;
}

export async function withModel<T>(v: Record<string, unknown>, run: (model: LoadedModel, files: ModelFiles) => Promise<T>, opts: SessionOptions = {}): Promise<T> {
  const precision = opts.precision ?? baseWeightsArg(v);
  const source = { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision') };
  const files = resolveFiles(required(v, 'model'), '--model', source);
  const adapterSpec = optionalString(v, 'adapter');
  const adapterFiles = adapterSpec ? resolveFiles(adapterSpec, '--adapter', source) : null;
  const gpu = await createNodeGpu();
  try {
    await tuneMatmul(gpu, nodeTuningCache());
    const memoryBudget = bytesArg(v, 'gpu-memory') ?? defaultBudget(gpu);
    const model = await loadModel(gpu, files, {
      precision,
      memoryBudget,
      maxPositions: opts.maxPositions,
      beforeAllocate: opts.beforeAllocate && ((cfg, bytes) => opts.beforeAllocate!(cfg, bytes, memoryBudget)),
    });
    if (adapterFiles && opts.applyAdapter !== false) await applyPeftAdapter(model, adapterFiles);
    return await run(model, files);
  } finally {
    gpu.destroy();
  }
}
