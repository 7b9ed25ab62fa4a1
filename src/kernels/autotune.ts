// Start-up autotune of the matmul work layouts: each candidate layout (columns or rows per
// invocation, how f16 weights are read) runs the same transformer-sized product on this device, and
// the fastest replaces the default in gpu.tuning. Every candidate is checked against the CPU twins by the kernel
// tests, so the choice changes speed, never results. A result can be cached per adapter (the CLI keeps
// it on disk, the app in Cache Storage) and applied with applyMatmulTuning.
// Dimension key: M = rows (tokens), N = out_features, K = in_features.
// X: [M, K] f32   W: [N, K] f16   Y: [M, N] f32   dY: [M, N] f32   dX: [M, K] f32

import type { Gpu } from '../gpu/device.ts';
import { describeAdapter } from '../gpu/device.ts';
import { Recorder, STORAGE, uploadBuffer } from '../gpu/recorder.ts';
import { defaultTuning, layoutName, type MatmulTuning } from '../gpu/tuning.ts';
import { fromFloat32 } from '../formats/dtype.ts';
import { seededRandom } from '../util/random.ts';
import { matmulForward, matmulInputGrad } from './matmul.ts';
import { destroyMatrix, uploadMatrix } from './weights.ts';

/** Bump when the candidates or the kernels change, so cached choices are measured again. */
export const TUNING_VERSION = 1;

const SHAPE = { M: 128, N: 512, K: 512 };
/** Each timing covers at least this much device time (repetitions in one submit). */
const MIN_TIMED_MS = 30;
const MAX_REPS = 64;
const ROUNDS = 3;

// Few candidates: a software driver with a cold shader cache compiles each pipeline for up to seconds.
// The workgroup shapes stay the adapter type's defaults (they moved the time by less than the noise
// on lavapipe); what is timed is how f16 weights are read and over how many outputs each invocation
// reuses what it loads.

export function forwardCandidates(gpu: Gpu): MatmulTuning['forward'][] {
  const d = defaultTuning(gpu.adapter).matmul.forward;
  // Without shader-f16 the packed reader is the only one.
  return [4, 8].flatMap((cols) => (gpu.f16 ? [true, false] : [true]).map((f16Packed) => ({ ...d, cols, f16Packed })));
}

export function inputGradCandidates(gpu: Gpu): MatmulTuning['inputGrad'][] {
  const d = defaultTuning(gpu.adapter).matmul.inputGrad;
  return [2, 4, 8].map((rows) => ({ ...d, rows }));
}

export interface LayoutTiming {
  layout: string;
  /** Best time of one product. */
  ms: number;
}

export interface MatmulTuningResult {
  version: number;
  /** describeAdapter of the device measured: a cached result applies only to the same adapter. */
  adapter: string;
  shape: { M: number; N: number; K: number };
  chosen: MatmulTuning;
  forward: LayoutTiming[];
  inputGrad: LayoutTiming[];
  /** Wall time of the whole measurement (shader compiles included). */
  tookMs: number;
}

/** Applies a cached result if it was measured on this adapter by this version; returns whether it did. */
export function applyMatmulTuning(gpu: Gpu, r: MatmulTuningResult | null | undefined): boolean {
  if (!r || r.version !== TUNING_VERSION || r.adapter !== describeAdapter(gpu.adapter)) return false;
  gpu.tuning.matmul = structuredClone(r.chosen);
  gpu.tuning.source = 'measured';
  return true;
}

/** Times every candidate and keeps the fastest in gpu.tuning.matmul. */
export async function autotuneMatmul(gpu: Gpu): Promise<MatmulTuningResult> {
  const started = performance.now();
  const { M, N, K } = SHAPE;
  const random = seededRandom(11);
  const w = uploadMatrix(gpu, { dtype: 'f16', rows: N, cols: K, bytes: fromFloat32('F16', Float64Array.from({ length: N * K }, () => random() - 0.5)), label: 'autotune W' });
  // X doubles as dY, Y as dX: [M, max(N, K)] each.
  const x = uploadBuffer(gpu, Float32Array.from({ length: M * Math.max(N, K) }, () => random() - 0.5), 'autotune X');
  const y = gpu.pool.acquire(M * Math.max(N, K) * 4, STORAGE, 'autotune Y');
  const saved = structuredClone(gpu.tuning.matmul);
  try {
    const forward = await fastest(gpu, forwardCandidates(gpu), (l) => (gpu.tuning.matmul.forward = l), (rec) => matmulForward(rec, { x, w, y, M }));
    const inputGrad = await fastest(gpu, inputGradCandidates(gpu), (l) => (gpu.tuning.matmul.inputGrad = l), (rec) => matmulInputGrad(rec, { dy: x, w, dx: y, M }));
    gpu.tuning.matmul = { forward: forward.best, inputGrad: inputGrad.best };
    gpu.tuning.source = 'measured';
    gpu.checkErrors();
    return {
      version: TUNING_VERSION,
      adapter: describeAdapter(gpu.adapter),
      shape: { ...SHAPE },
      chosen: structuredClone(gpu.tuning.matmul),
      forward: forward.timings,
      inputGrad: inputGrad.timings,
      tookMs: performance.now() - started,
    };
  } catch (e) {
    gpu.tuning.matmul = saved;
    throw e;
  } finally {
    destroyMatrix(gpu, w);
    gpu.pool.release(x);
    gpu.pool.release(y);
  }
}

/**
 * Best of ROUNDS timings per candidate, the rounds interleaved so that load from elsewhere hits every
 * candidate alike. The repetitions per timing are set once, from the first candidate.
 */
async function fastest<L extends MatmulTuning['forward'] | MatmulTuning['inputGrad']>(gpu: Gpu, candidates: L[], use: (l: L) => void, record: (rec: Recorder) => void): Promise<{ best: L; timings: LayoutTiming[] }> {
  const time = async (reps: number): Promise<number> => {
    const rec = new Recorder(gpu);
    for (let i = 0; i < reps; i++) record(rec);
    const t0 = performance.now();
    rec.submit();
    await gpu.device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / reps;
  };
  // One untimed run per candidate builds its pipeline.
  for (const c of candidates) {
    use(c);
    await time(1);
  }
  use(candidates[0]!);
  const once = await time(1);
  const reps = Math.max(1, Math.min(MAX_REPS, Math.ceil(MIN_TIMED_MS / Math.max(once, 1e-3))));
  const best = candidates.map(() => Infinity);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, c] of candidates.entries()) {
      use(c);
      best[i] = Math.min(best[i]!, await time(reps));
    }
  }
  const winner = best.indexOf(Math.min(...best));
  return { best: candidates[winner]!, timings: candidates.map((c, i) => ({ layout: layoutName(c), ms: best[i]! })) };
}

/** Where a measured result is kept between runs (a file for the CLI, Cache Storage in the app). */
export interface TuningCache {
  load(adapter: string): Promise<MatmulTuningResult | null>;
  save(r: MatmulTuningResult): Promise<void>;
}

/**
 * The cached result for this adapter if there is one, else a fresh measurement, saved for next time.
 * A cache that fails to read or write costs a measurement, never the run.
 */
export async function tuneMatmul(gpu: Gpu, cache: TuningCache | null): Promise<{ result: MatmulTuningResult; cached: boolean }> {
  const cached = await cache?.load(describeAdapter(gpu.adapter)).catch(() => null);
  if (cached && applyMatmulTuning(gpu, cached)) return { result: cached, cached: true };
  const result = await autotuneMatmul(gpu);
  await cache?.save(result).catch(() => undefined);
  return { result, cached: false };
}
