// Runs the bench scenarios on one Gpu and gathers one BenchReport. Works on any Gpu (Dawn in Node
// or a browser's device); the caller creates and destroys it.

import { BufferPool } from '../gpu/buffer-pool.ts';
import type { Gpu } from '../gpu/device.ts';
import { isSoftwareAdapter } from '../gpu/tuning.ts';
import { runDecode } from './decode.ts';
import { runMatmul } from './matmul.ts';
import { type BenchModel, loadBenchModel } from './model.ts';
import { BENCH_FORMAT, type BenchReport, type DeviceReport, type MatmulReport, type ScenarioName } from './report.ts';
import { projectionShapes, QUICK_SHAPE, QWEN25_05B, SMOLLM2_135M } from './shapes.ts';
import { startTfjs, type TfjsLoader, type TfjsPeer } from './tfjs.ts';
import { benchLora, runTrain } from './train.ts';
import { runQuantizedTrain } from './train-quantized.ts';
import { seededRandom } from '../util/random.ts';
import { runVariedMemory } from './varied-memory.ts';
import { destroyModel } from '../model/model.ts';
import { autotuneMatmul } from '../kernels/autotune.ts';

export interface BenchOptions {
  scenarios: ScenarioName[];
  /** Small sizes everywhere: seconds instead of minutes (for tests and a first look). */
  quick: boolean;
  /** Timed matmul trials per implementation and shape (default 3). */
  trials?: number;
  /** Layers of the train/decode model (default 2; SmolLM2-135M has 30). */
  layers?: number;
  /** Vocabulary of the train/decode model (default: the test tokenizer's 420). */
  vocab?: number;
  /** Compare with TensorFlow.js (default true). */
  tfjs?: boolean;
  /** See MatmulReport.tfjs.layout (default 'nt'). */
  tfjsLayout?: 'nt' | 'nn';
  /** How this runtime loads TensorFlow.js: tfjs-node.ts (CLI) or tfjs-browser.ts (the app's worker). */
  tfjsLoader: TfjsLoader;
  tabtune: string;
  runtime: string;
  onProgress?: (line: string) => void;
}

/** The sizes of each mode. */
export function benchSizes(quick: boolean) {
  return quick
    ? { M: 64, shapes: projectionShapes(QUICK_SHAPE), minTrialMs: 20, seqLen: 32, promptTokens: 4, newTokens: 4, warmupSteps: 1, timedSteps: 2, variedSteps: 6 }
    : { M: 512, shapes: [...projectionShapes(SMOLLM2_135M), ...projectionShapes(QWEN25_05B)], minTrialMs: 300, seqLen: 256, promptTokens: 16, newTokens: 16, warmupSteps: 1, timedSteps: 5, variedSteps: 24 };
}

export function describeDevice(gpu: Gpu): DeviceReport {
  const a = gpu.adapter;
  return {
    vendor: a.vendor,
    architecture: a.architecture,
    device: a.device,
    description: a.description,
    shaderF16: gpu.f16,
    software: isSoftwareAdapter(a),
    maxBufferSize: gpu.limits.maxBufferSize,
    maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
  };
}

export async function runBench(gpu: Gpu, o: BenchOptions): Promise<BenchReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const sizes = benchSizes(o.quick);
  const trials = o.trials ?? 3;
  const log = o.onProgress ?? (() => {});
  const want = (s: ScenarioName) => o.scenarios.includes(s);
  log('timing the matmul layouts on this device');
  const tuning = await autotuneMatmul(gpu);

  let matmul: MatmulReport | null = null;
  let train: BenchReport['train'] = null;
  let memory: BenchReport['memory'] = null;
  let decode: BenchReport['decode'] = null;
  // TensorFlow.js, started once for the scenarios that compare with it (matmul, train).
  const startPeer = async (): Promise<{ peer: TfjsPeer | null; error: string | null }> => {
    if (o.tfjs === false) return { peer: null, error: 'disabled' };
    try {
      return { peer: await startTfjs(gpu, o.tfjsLoader), error: null };
    } catch (e) {
      const error = (e as Error).message;
      log(`TensorFlow.js is not available, so there is no peer to compare with: ${error}`);
      return { peer: null, error };
    }
  };
  if (want('matmul')) {
    const { peer, error: tfjsError } = await startPeer();
    try {
      matmul = await runMatmul(gpu, { M: sizes.M, shapes: sizes.shapes, dtypes: ['f32', 'f16'], trials, minTrialMs: sizes.minTrialMs, tfjs: peer, tfjsError, tfjsLayout: o.tfjsLayout, onProgress: log });
    } finally {
      peer?.dispose();
    }
  }

  if (want('train') || want('decode')) {
    gpu.pool.trim();
    gpu.pool.resetPeak();
    // In the app the user's own model (and adapter) stay loaded on the same pool; the peak is the
    // bench model's alone, as in the CLI, where nothing else is held.
    const heldBefore = gpu.pool.stats().currentBytes;
    const seqLen = sizes.seqLen;
    const maxPositions = Math.max(seqLen, sizes.promptTokens + sizes.newTokens);
    let bm: BenchModel | null = null;
    try {
      bm = await loadBenchModel(gpu, { quick: o.quick, layers: o.layers ?? 2, vocab: o.vocab, maxPositions });
      log(`bench model: ${bm.report.name}, ${bm.report.weightDtype} weights, ${bm.report.params.toLocaleString('en')} parameters`);
      if (want('train')) {
        // Our kernel alone on the model's own projection shapes, in its weight dtype, between the
        // steps: on a shared machine a figure from minutes earlier can differ 2x.
        const shapes = projectionShapes(o.quick ? QUICK_SHAPE : SMOLLM2_135M);
        const dtype = bm.model.weights.dtype === 'f32' ? 'f32' : 'f16';
        // On a pool of its own (emptied by runMatmul): the training steps keep theirs between steps.
        const measureReference = async () => {
          const own = { ...gpu, pool: new BufferPool(gpu.device, gpu.limits.maxBufferSize) };
          return (await runMatmul(own, { M: sizes.M, shapes, dtypes: [dtype], trials: 1, minTrialMs: sizes.minTrialMs, tfjs: null })).bestOursGflops;
        };
        const { peer, error: tfjsError } = await startPeer();
        const r = await runTrain(bm, {
          batch: 1,
          seqLen,
          rank: 8,
          warmupSteps: sizes.warmupSteps,
          timedSteps: sizes.timedSteps,
          measureReference,
          referenceSource: `our best over the ${shapes.length} ${o.quick ? 'quick' : 'SmolLM2-135M'} projection shapes at m=${sizes.M}, ${dtype} weights, measured before, between and after the timed steps`,
          matmulBestGflops: matmul?.bestOursGflops ?? null,
          tfjs: peer,
          tfjsError,
          onProgress: log,
        }).finally(() => peer?.dispose());
        train = r.train;
        try {
          const random = seededRandom(11);
          const rows = Array.from({ length: 4 }, () => ({ inputIds: Array.from({ length: seqLen }, () => Math.floor(random() * bm!.model.cfg.vocabSize)) }));
          train.quantized = await runQuantizedTrain(bm, {
            lc: benchLora(r.train.lora.rank), baseWeights: 'q4_k', rows, batch: 1, seqLen, checkpointing: r.train.checkpointing,
            warmupSteps: sizes.warmupSteps, timedSteps: sizes.timedSteps, onProgress: log,
          });
          const q = train.quantized;
          log(`q4_k base: ${q.stepMs.toFixed(0)} ms/step = ${q.slowdown.toFixed(2)}x the 16-bit base's ${q.baselineStepMs.toFixed(0)} ms; weights ${(q.weightBytes / 2 ** 20).toFixed(2)} MiB = ${q.weightRatio.toFixed(3)}x`);
        } catch (e) {
          train.quantizedError = e instanceof Error ? e.message : String(e);
          log(`quantized-base step failed: ${train.quantizedError}`);
        }
        const peakBytes = r.memory.peakBytes - heldBefore;
        const v = await runVariedMemory(bm, { lc: benchLora(r.train.lora.rank), batch: 2, seqLen, steps: sizes.variedSteps });
        const variedPeakBytes = v.peakBytes - heldBefore;
        log(`memory, rows of ${v.minLength}..${v.maxLength} tokens: peak ${(variedPeakBytes / 2 ** 20).toFixed(1)} MiB of a ${(v.planBytes / 2 ** 20).toFixed(1)} MiB plan after ${v.steps} steps`);
        memory = {
          ...r.memory, peakBytes, ratio: peakBytes / r.memory.plan.total,
          variedSteps: v.steps, variedPeakBytes, variedPlanBytes: v.planBytes, variedRatio: variedPeakBytes / v.planBytes, variedTokensPerSecond: v.tokensPerSecond,
        };
      }
      if (want('decode')) decode = await runDecode(bm, { promptTokens: sizes.promptTokens, newTokens: sizes.newTokens, onProgress: log });
    } finally {
      if (bm) destroyModel(bm.model);
      gpu.pool.trim();
    }
  }
  gpu.checkErrors();
  return {
    format: BENCH_FORMAT,
    tabtune: o.tabtune,
    quick: o.quick,
    scenarios: [...o.scenarios],
    device: describeDevice(gpu),
    runtime: o.runtime,
    tuning,
    matmul,
    train,
    memory,
    decode,
    startedAt,
    elapsedMs: performance.now() - started,
  };
}
