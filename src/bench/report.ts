// The shape of `tabtune bench --json`: one object, stable keys (documented in README.md). A key of
// a scenario that did not run is null, never missing. Bump BENCH_FORMAT when a key changes meaning.
// Units are in the names: Ms = milliseconds, Gflops = 10^9 floating-point operations per second,
// Bytes = bytes; flops = operation counts (a multiply-add is 2).

import type { MatmulTuningResult } from '../kernels/autotune.ts';

export const BENCH_FORMAT = 1;

export type ScenarioName = 'matmul' | 'train' | 'decode';
export const SCENARIOS: readonly ScenarioName[] = ['matmul', 'train', 'decode'];

export interface DeviceReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  shaderF16: boolean;
  /** A CPU-backed adapter (lavapipe, SwiftShader): absolute figures say little, ratios do. */
  software: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface MatmulRow {
  /** "SmolLM2-135M" | "Qwen2.5-0.5B" | "quick" */
  model: string;
  /** The projections with this shape, e.g. "q_proj,o_proj". */
  proj: string;
  /** Y[m, n] = X[m, k] @ W[n, k]^T */
  m: number;
  n: number;
  k: number;
  /** Our weights' storage; X, Y and the accumulation are f32. */
  dtype: 'f32' | 'f16';
  /** Best time of one product over the timed trials. */
  oursMs: number;
  oursGflops: number;
  /** TensorFlow.js WebGPU, f32 weights (see MatmulReport.tfjs.layout): the same for both dtype rows of a shape. */
  tfjsMs: number | null;
  tfjsGflops: number | null;
  /** oursGflops / tfjsGflops (> 1: ours is faster). */
  ratio: number | null;
  /** max |ours - tfjs| / max |tfjs| over Y: a check that both computed the same product. */
  maxRelDiff: number | null;
}

export interface MatmulReport {
  rows: MatmulRow[];
  /** Our fastest row. */
  bestOursGflops: number;
  /** Lowest and geometric-mean ratio ours/tfjs over all rows (null without TensorFlow.js). */
  minRatio: number | null;
  geomeanRatio: number | null;
  /**
   * version: "tfjs-core 4.22.0 (webgpu backend)"; error: why TensorFlow.js did not run (else null);
   * layout: "nt" = tf.matMul(x, w, false, true) with w [n, k] as nn.Linear stores it (default),
   * "nn" = tf.matMul(x, w) with w transposed to [k, n] beforehand (--tfjs-layout nn).
   */
  tfjs: { version: string | null; error: string | null; layout: 'nt' | 'nn' };
  trials: number;
}

export interface BenchModelReport {
  /** What the model is shaped like and how it was scaled down. */
  name: string;
  basedOn: string;
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  tiedEmbeddings: boolean;
  /** Storage of the frozen matrices on the GPU. */
  weightDtype: string;
  /** Bytes the frozen weights take on the GPU. */
  weightBytes: number;
  /** Frozen parameters (embedding included). */
  params: number;
}

/**
 * The same LoRA step on the same model with its frozen base quantized on load, steps alternating
 * with the 16-bit base's in this run (src/bench/train-quantized.ts).
 */
export interface QuantizedTrainReport {
  /** The --base-weights value, e.g. "q4_k". */
  baseWeights: string;
  /** Matrices per GPU dtype (rows that are not whole Q4_K super-blocks fall back to Q4_1, as in train). */
  weightDtypes: Record<string, number>;
  /** Best wall time of one step on the quantized base. */
  stepMs: number;
  /** Best wall time of the 16-bit base's step in the same alternation. */
  baselineStepMs: number;
  /** stepMs / baselineStepMs. */
  slowdown: number;
  weightBytes: number;
  baselineWeightBytes: number;
  /** weightBytes / baselineWeightBytes. */
  weightRatio: number;
  /** The quantized base's first loss (close to the 16-bit one's: same model, 4-bit weights). */
  firstLoss: number;
}

export interface StepFlops {
  /** 2 * params * tokens over the frozen linears and the LM head. */
  frozenForward: number;
  /** The same again: input-gradients through the frozen linears and the LM head. */
  frozenInputGrad: number;
  /** LoRA's products, forward (2) and backward (4): 6 * tokens * r * (in + out) per adapted module. */
  lora: number;
  /** Causal attention, forward (QK^T, PV) and backward (4 products): 12 * heads * headDim * T(T+1)/2 per layer and sequence. */
  attention: number;
  /** frozenForward + frozenInputGrad + lora + attention. */
  useful: number;
  /** Not useful, reported apart: the forward recomputed by activation checkpointing and the loss's second pass over the LM head. */
  recompute: number;
}

/**
 * The same LoRA step written with TensorFlow.js autodiff (src/bench/tfjs-train.ts): same model,
 * weights, LoRA initial values, rows and AdamW settings, timed the same way, alternating with ours.
 * Every figure is null when TensorFlow.js did not run (error says why).
 */
export interface TrainTfjsReport {
  /** "tfjs-core 4.22.0 (webgpu backend)" */
  version: string | null;
  /** Always "f32": TensorFlow.js's WebGPU backend has no 16-bit weight path, so the f16 weights are held as f32. */
  weightDtype: 'f32';
  /** What the step computes, in words. */
  how: string;
  warmupSteps: number;
  timedSteps: number;
  /** Best wall time of one step (upload the ids, forward, tf.variableGrads, AdamW, read loss and gradient norm back). */
  stepMs: number | null;
  meanStepMs: number | null;
  tokensPerSecond: number | null;
  /** stepMs / our stepMs (> 1: TensorFlow.js is slower). */
  slowdown: number | null;
  /** The first step's loss (before any update, on the same rows as our first step) and ours. */
  firstLoss: number | null;
  oursFirstLoss: number | null;
  /** |firstLoss - oursFirstLoss| / |oursFirstLoss|: both computed the same model. */
  lossRelDiff: number | null;
  /** The same for the first step's global gradient norm (before clipping): both computed the same LoRA gradients. */
  gradNormRelDiff: number | null;
  /** Live TensorFlow.js tensors after the last step minus after the first (0: nothing leaks). */
  tensorGrowth: number | null;
  error: string | null;
}

export interface TrainReport {
  model: BenchModelReport;
  lora: { rank: number; alpha: number; targets: string[]; trainableParams: number };
  batch: number;
  /** Tokens per sequence; tokens per step = batch * seqLen. */
  seqLen: number;
  /** Steps timed after the warm-up step(s). */
  timedSteps: number;
  warmupSteps: number;
  checkpointing: boolean;
  /** Best wall time of one whole trainer step (encode, run, read the loss back) over the timed steps. */
  stepMs: number;
  meanStepMs: number;
  /** batch * seqLen / stepMs. */
  tokensPerSecond: number;
  flops: StepFlops;
  /** flops.useful / step time. */
  usefulGflops: number;
  /** Our best matmul GFLOP/s on the model's own projection shapes, measured before, between and after the timed steps (see referenceSource). */
  referenceGflops: number;
  referenceSource: string;
  /** Step efficiency: usefulGflops / referenceGflops. */
  efficiency: number;
  /** matmul.bestOursGflops when the matmul scenario ran (minutes earlier: on a shared machine load may differ), else null. */
  matmulBestGflops: number | null;
  /** usefulGflops / matmulBestGflops, or null. */
  efficiencyVsMatmulBest: number | null;
  finalLoss: number;
  tfjs: TrainTfjsReport;
  /** The same step on a Q4_K base; null when it failed (quantizedError says why). */
  quantized: QuantizedTrainReport | null;
  quantizedError: string | null;
}

export interface StepMemoryReport {
  /**
   * gpu.pool's highest bytes held while the model is loaded and trained (the reference matmuls' own
   * buffers excluded, and so is whatever the pool held before: in the app, the user's loaded model).
   */
  peakBytes: number;
  /** The trainer's analytic plan (src/train/memory-plan.ts) for the same run, term by term. */
  plan: { weights: number; trainable: number; activations: number; total: number; checkpointing: boolean };
  /** peakBytes / plan.total. */
  ratio: number;
}

export interface MemoryReport extends StepMemoryReport {
  /** A run of this many steps on rows of varied length (seqLen/8 .. seqLen), two per micro-batch, checkpointed. */
  variedSteps: number;
  /** Its peak, as peakBytes, after the last step. */
  variedPeakBytes: number;
  /** Its plan: full-length rows, as the CLI prints it. */
  variedPlanBytes: number;
  /** variedPeakBytes / variedPlanBytes. */
  variedRatio: number;
  variedTokensPerSecond: number;
}

export interface DecodeReport {
  model: BenchModelReport;
  /** Base model, no adapter; greedy; EOS ignored so that every run makes newTokens tokens. */
  promptTokens: number;
  newTokens: number;
  /** The prompt's forward pass and the first new token. */
  prefillMs: number;
  /** Every token after the first, one forward of one token each with the KV cache. */
  msPerToken: number;
  tokensPerSecond: number;
}

export interface BenchReport {
  format: number;
  tabtune: string;
  quick: boolean;
  scenarios: ScenarioName[];
  device: DeviceReport;
  /** Where it ran: "node v20.20.2 (Dawn, npm webgpu)", or in the app "browser worker: " and the browser's user agent. */
  runtime: string;
  /**
   * The start-up autotune, measured afresh at the start of every bench (src/kernels/autotune.ts): each
   * candidate layout's best time on one shape, and the layouts chosen, which the scenarios then use.
   */
  tuning: MatmulTuningResult;
  matmul: MatmulReport | null;
  train: TrainReport | null;
  memory: MemoryReport | null;
  decode: DecodeReport | null;
  startedAt: string;
  elapsedMs: number;
}
