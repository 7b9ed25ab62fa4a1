// Every matmul work layout the autotune can choose (and a few more shapes of workgroup), each against
// the float64 CPU twins: the layout may change speed, never the result.
// Dimension key: M = rows (tokens), N = out_features (rows of W), K = in_features, r4 = LoRA rank padded.
// X: [M, K]   W: [N, K] GpuMatrix   Y, dY: [M, ldy]   dX: [M, K]   U: [M, r4]   B: [N, r4]

import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import type { MatmulTuning } from '../../src/gpu/tuning.ts';
import { forwardCandidates, inputGradCandidates } from '../../src/kernels/autotune.ts';
import { matmulForward, matmulForwardCpu, matmulInputGrad, matmulInputGradCpu } from '../../src/kernels/matmul.ts';
import type { WeightDtype } from '../../src/kernels/weights.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { testMatrix } from '../helpers/weights.ts';

const TOL = { abs: 1e-5, rel: 1e-4 };
const DTYPES: [WeightDtype, 'f16' | 'nof16'][] = [['f32', 'f16'], ['f16', 'f16'], ['f16', 'nof16'], ['bf16', 'nof16']];

/** The candidates of this device plus shapes no default uses, deduplicated. */
function layouts<L>(candidates: L[], extra: L[]): L[] {
  const seen = new Set<string>();
  return [...candidates, ...extra].filter((l) => !seen.has(JSON.stringify(l)) && seen.add(JSON.stringify(l)));
}

async function withLayout<T>(gpu: Gpu, set: (t: MatmulTuning) => void, run: () => Promise<T>): Promise<T> {
  const saved = structuredClone(gpu.tuning.matmul);
  set(gpu.tuning.matmul);
  try {
    return await run();
  } finally {
    gpu.tuning.matmul = saved;
  }
}

// N not a multiple of 8 and M not of 4; K a multiple of 8 (the wide input-gradient path) or only of 4.
const SHAPES = [
  { M: 1, N: 3, K: 8 },
  { M: 37, N: 53, K: 40 },
  { M: 30, N: 70, K: 36 },
];

describe.each(DTYPES)('matmul forward, every layout, %s weights (device %s)', (dtype, variant) => {
  it('matches the CPU twin with bias, LoRA, accumulate and a chunked weight', async () => {
    const gpu = await testGpu(variant);
    const extra: MatmulTuning['forward'][] = [
      { cols: 4, wgX: 16, wgY: 4, f16Packed: false },
      { cols: 8, wgX: 4, wgY: 16, f16Packed: true },
    ];
    const all = layouts(forwardCandidates(gpu), extra);
    expect(all.length).toBeGreaterThanOrEqual(gpu.f16 ? 4 : 3);
    for (const layout of all) {
      for (const { M, N, K } of SHAPES) {
        const r4 = 8;
        const x = f32(randomArray(M * K, 1 + M));
        // 16-row chunks: the second chunk's columns start inside a block of 8.
        const w = testMatrix(gpu, dtype, N, K, randomArray(N * K, 2 + N), 12);
        const u = f32(randomArray(M * r4, 3));
        const b = testMatrix(gpu, 'f32', N, r4, randomArray(N * r4, 4));
        const ldy = N + 3;
        const y0 = f32(randomArray(M * ldy, 5));
        const [xb, ub, yb] = [x, u, y0].map((a) => uploadBuffer(gpu, Float32Array.from(a))) as [GPUBuffer, GPUBuffer, GPUBuffer];
        const got = await withLayout(gpu, (t) => (t.forward = layout), async () => {
          const rec = new Recorder(gpu);
          matmulForward(rec, { x: xb, w: w.gpu, y: yb, M, alpha: 0.5, accumulate: true, ldy, col0: 2, lora: { u: ub, b: b.gpu, scale: 1.5 } });
          rec.submit();
          return readF32(gpu, yb, 0, M * ldy);
        });
        const want = Float64Array.from(y0);
        matmulForwardCpu({ x, w: w.cpu, y: want, M, alpha: 0.5, accumulate: true, ldy, col0: 2, lora: { u, b: b.cpu, scale: 1.5 } });
        // Columns past col0 + N of each row must be untouched.
        expectClose(got, want, TOL, `Y ${JSON.stringify(layout)} M=${M} N=${N} K=${K}`);
      }
    }
  });
});

describe.each(DTYPES)('matmulInputGrad, every layout, %s weights (device %s)', (dtype, variant) => {
  it('matches the CPU twin for aligned and unaligned dY, chunked weights, with and without accumulate', async () => {
    const gpu = await testGpu(variant);
    const extra: MatmulTuning['inputGrad'][] = [
      { rows: 3, wgX: 4, wgY: 16 },
      { rows: 1, wgX: 64, wgY: 1 },
    ];
    const all = layouts(inputGradCandidates(gpu), extra);
    expect(all.length).toBeGreaterThanOrEqual(5);
    for (const layout of all) {
      for (const { M, N, K } of SHAPES) {
        // ldy = N + 5 is unaligned (dY read one value at a time); N + 3 rounds up to a multiple of 4 for N odd.
        for (const [ldy, chunkRows] of [[N + 5, 16], [Math.ceil(N / 4) * 4 + 4, 8]] as const) {
          const dy = f32(randomArray(M * ldy, 6 + M));
          const w = testMatrix(gpu, dtype, N, K, randomArray(N * K, 7 + N), chunkRows);
          const dx0 = f32(randomArray(M * K, 8, 2));
          const dyb = uploadBuffer(gpu, Float32Array.from(dy));
          for (const accumulate of [false, true]) {
            const dxb = uploadBuffer(gpu, Float32Array.from(dx0));
            const got = await withLayout(gpu, (t) => (t.inputGrad = layout), async () => {
              const rec = new Recorder(gpu);
              matmulInputGrad(rec, { dy: dyb, w: w.gpu, dx: dxb, M, alpha: -0.75, accumulate, ldy });
              rec.submit();
              return readF32(gpu, dxb, 0, M * K);
            });
            const want = Float64Array.from(dx0);
            matmulInputGradCpu({ dy, w: w.cpu, dx: want, M, alpha: -0.75, accumulate, ldy });
            expectClose(got, want, TOL, `dX ${JSON.stringify(layout)} M=${M} N=${N} K=${K} ldy=${ldy} accumulate=${accumulate}`);
            gpu.pool.release(dxb);
          }
        }
      }
    }
  });
});
