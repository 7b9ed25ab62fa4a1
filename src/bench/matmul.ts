// Scenario "matmul": our matmulForward (src/kernels/matmul.ts, Y = X @ W^T, W f32 or f16) against
// TensorFlow.js's WebGPU tf.matMul(x, w, false, true) on the same device, the same inputs, in the
// same run. Trials of the two alternate so that load from other processes hits both alike; each
// reports its best trial. A trial ends when the GPU has finished: our queue's onSubmittedWorkDone,
// or TensorFlow.js reading back one element of the last product.
// Dimension key: M = tokens (rows of X), K = in_features, N = out_features (rows of W).

import type { Tensor } from '@tensorflow/tfjs-core';
import type { Gpu } from '../gpu/device.ts';
import { readF32, Recorder, STORAGE, uploadBuffer } from '../gpu/recorder.ts';
import { fromFloat32 } from '../formats/dtype.ts';
import { matmulForward } from '../kernels/matmul.ts';
import { destroyMatrix, type GpuMatrix, uploadMatrix } from '../kernels/weights.ts';
import { seededRandom } from '../util/random.ts';
import type { MatmulReport, MatmulRow } from './report.ts';
import type { ProjShape } from './shapes.ts';
import type { TfjsPeer } from './tfjs.ts';

export interface MatmulOptions {
  M: number;
  shapes: ProjShape[];
  dtypes: ('f32' | 'f16')[];
  /** Timed trials per implementation and shape, after one untimed warm-up run. */
  trials: number;
  /** Later trials repeat the product until a trial lasts about this long. */
  minTrialMs: number;
  tfjs: TfjsPeer | null;
  tfjsError?: string | null;
  /** How TensorFlow.js gets W: 'nt' (default) tf.matMul(x, w, false, true) with w [N, K]; 'nn' tf.matMul(x, w) with w [K, N]. */
  tfjsLayout?: 'nt' | 'nn';
  onProgress?: (line: string) => void;
}

const gflops = (M: number, N: number, K: number, ms: number) => (2 * M * N * K) / (ms * 1e6);

function randomMatrix(rows: number, cols: number, seed: number, scale: number): Float32Array {
  const r = seededRandom(seed);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = scale * (2 * r() - 1);
  return out;
}

/** A timed implementation: runs the product `reps` times and resolves when the device is done. */
type Runner = (reps: number) => Promise<number>;

async function best(run: Runner, state: { best: number; reps: number }, minTrialMs: number): Promise<void> {
  const ms = await run(state.reps);
  state.best = Math.min(state.best, ms / state.reps);
  state.reps = Math.max(1, Math.min(64, Math.ceil(minTrialMs / state.best)));
}

export async function runMatmul(gpu: Gpu, o: MatmulOptions): Promise<MatmulReport> {
  const rows: MatmulRow[] = [];
  const { M } = o;
  for (const [si, s] of o.shapes.entries()) {
    const { n: N, k: K } = s;
    const xData = randomMatrix(M, K, 1000 + si, 1);
    const wData = randomMatrix(N, K, 2000 + si, 1 / Math.sqrt(K));
    const x = uploadBuffer(gpu, xData, 'bench_x'); // [M, K]
    // One weight matrix and one Y per dtype, so each Y still holds its product for the check below.
    const weights = new Map<string, { w: GpuMatrix; y: GPUBuffer }>();
    for (const dt of o.dtypes) {
      const bytes = dt === 'f32' ? new Uint8Array(wData.buffer.slice(0)) : fromFloat32('F16', wData);
      const w = uploadMatrix(gpu, { dtype: dt, rows: N, cols: K, bytes, label: `bench_w_${dt}` });
      weights.set(dt, { w, y: gpu.pool.acquire(M * N * 4, STORAGE, `bench_y_${dt}`) }); // W: [N, K]  Y: [M, N]
    }
    const ours = ({ w, y }: { w: GpuMatrix; y: GPUBuffer }): Runner => async (reps) => {
      const t0 = performance.now();
      const rec = new Recorder(gpu);
      for (let i = 0; i < reps; i++) matmulForward(rec, { x, w, y, M });
      rec.submit();
      await gpu.device.queue.onSubmittedWorkDone();
      gpu.checkErrors();
      return performance.now() - t0;
    };
    const tf = o.tfjs?.tf;
    const tx = tf?.tensor2d(xData, [M, K]);
    // 'nt': W as nn.Linear stores it, [N, K], multiplied transposed; 'nn': W stored [K, N] beforehand.
    const nn = o.tfjsLayout === 'nn';
    const tw0 = tf?.tensor2d(wData, [N, K]);
    const tw = nn && tw0 ? tf!.transpose(tw0) : tw0;
    if (tw !== tw0) tw0?.dispose();
    let ty: Tensor | null = null;
    const theirs: Runner | null =
      tf && tx && tw
        ? async (reps) => {
            const t0 = performance.now();
            for (let i = 0; i < reps; i++) {
              ty?.dispose();
              ty = tf.matMul(tx, tw, false, !nn);
            }
            const one = tf.slice(ty!, [0, 0], [1, 1]);
            await one.data();
            one.dispose();
            return performance.now() - t0;
          }
        : null;

    const runners: [string, Runner][] = [...o.dtypes.map((dt): [string, Runner] => [dt, ours(weights.get(dt)!)])];
    if (theirs) runners.push(['tfjs', theirs]);
    const states = new Map(runners.map(([name]) => [name, { best: Infinity, reps: 1 }]));
    for (const [, run] of runners) await run(1); // warm-up: pipelines compiled, buffers touched
    for (let t = 0; t < o.trials; t++) {
      for (const [name, run] of runners) await best(run, states.get(name)!, o.minTrialMs);
    }

    // Both sides computed the same product? Each Y holds its implementation's last result.
    const lastY = ty as Tensor | null;
    const theirY = lastY ? ((await lastY.data()) as Float32Array) : null;
    const tfjsMs = theirs ? states.get('tfjs')!.best : null;
    for (const dt of o.dtypes) {
      const ourY = await readF32(gpu, weights.get(dt)!.y, 0, M * N);
      let diff = 0;
      let scale = 0;
      if (theirY) {
        for (let i = 0; i < ourY.length; i++) {
          diff = Math.max(diff, Math.abs(ourY[i]! - theirY[i]!));
          scale = Math.max(scale, Math.abs(theirY[i]!));
        }
      }
      const oursMs = states.get(dt)!.best;
      const row: MatmulRow = {
        model: s.model,
        proj: s.proj,
        m: M,
        n: N,
        k: K,
        dtype: dt,
        oursMs,
        oursGflops: gflops(M, N, K, oursMs),
        tfjsMs,
        tfjsGflops: tfjsMs === null ? null : gflops(M, N, K, tfjsMs),
        ratio: tfjsMs === null ? null : tfjsMs / oursMs,
        maxRelDiff: theirY ? diff / Math.max(scale, 1e-30) : null,
      };
      rows.push(row);
      o.onProgress?.(
        `matmul ${s.model} ${s.proj} [${M}x${K}]@[${N}x${K}]^T ${dt}: ours ${row.oursGflops.toFixed(2)} GFLOP/s` +
          (row.tfjsGflops === null ? '' : `, tfjs ${row.tfjsGflops.toFixed(2)} GFLOP/s, ratio ${row.ratio!.toFixed(2)}`),
      );
    }
    lastY?.dispose();
    tx?.dispose();
    tw?.dispose();
    for (const { w, y } of weights.values()) {
      destroyMatrix(gpu, w);
      gpu.pool.destroy(y);
    }
    gpu.pool.destroy(x);
  }
  gpu.pool.trim();
  const ratios = rows.map((r) => r.ratio).filter((r): r is number => r !== null);
  return {
    rows,
    bestOursGflops: Math.max(...rows.map((r) => r.oursGflops)),
    minRatio: ratios.length ? Math.min(...ratios) : null,
    geomeanRatio: ratios.length ? Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length) : null,
    tfjs: { version: o.tfjs?.version ?? null, error: o.tfjs ? null : (o.tfjsError ?? 'not run'), layout: o.tfjsLayout ?? 'nt' },
    trials: o.trials,
  };
}
