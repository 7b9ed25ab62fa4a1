// matmulInputGrad (dX = dY @ W, frozen W in f32 / f16 / bf16) and matmulWeightGrad (dW = dY^T @ X, f32)
// on the GPU vs their float64 CPU twins.
// Dimension key: M = rows (tokens), N = out_features (rows of W), K = in_features (a multiple of 4).
// dY: [M, ldy] f32   W: [N, K] GpuMatrix   X: [M, ldx] f32   dX: [M, K] f32   dW: [N, K] f32

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { matmulInputGrad, matmulInputGradCpu, matmulWeightGrad, matmulWeightGradCpu } from '../../src/kernels/matmul.ts';
import type { WeightDtype } from '../../src/kernels/weights.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { testMatrix } from '../helpers/weights.ts';

// Sums of at most a few hundred products of values in [-1, 1): f32 error stays well inside abs 1e-5.
const TOL = { abs: 1e-5, rel: 1e-4 };

// M odd and not a multiple of the 32-row tile; N odd (and not a multiple of the 4-wide unroll);
// K a multiple of 4 but not of the 32-column tile.
const INPUT_SHAPES = [
  { M: 1, N: 1, K: 4 },
  { M: 37, N: 53, K: 36 },
  { M: 65, N: 130, K: 100 },
  { M: 3, N: 7, K: 260 },
];

describe.each([
  ['f32', 'f16'],
  ['f16', 'f16'],
  ['f16', 'nof16'],
  ['bf16', 'f16'],
  ['bf16', 'nof16'],
] as [WeightDtype, 'f16' | 'nof16'][])('matmulInputGrad with %s weights (device %s)', (dtype, variant) => {
  it.each(INPUT_SHAPES)('M=$M N=$N K=$K, dY wider than N, alpha, with and without accumulate', async ({ M, N, K }) => {
    const gpu = await testGpu(variant);
    const ldy = N + 5; // dY has extra columns the product must ignore
    const dy = f32(randomArray(M * ldy, 21 + M));
    const w = testMatrix(gpu, dtype, N, K, randomArray(N * K, 22 + N));
    const dx0 = f32(randomArray(M * K, 23, 2));
    const dyb = uploadBuffer(gpu, Float32Array.from(dy));
    for (const accumulate of [false, true]) {
      const dxb = uploadBuffer(gpu, Float32Array.from(dx0));
      const rec = new Recorder(gpu);
      matmulInputGrad(rec, { dy: dyb, w: w.gpu, dx: dxb, M, alpha: -0.625, accumulate, ldy });
      rec.submit();
      const got = await readF32(gpu, dxb, 0, M * K);
      const want = Float64Array.from(dx0);
      matmulInputGradCpu({ dy, w: w.cpu, dx: want, M, alpha: -0.625, accumulate, ldy });
      expectClose(got, want, TOL, `dX ${dtype} accumulate=${accumulate}`);
      gpu.pool.release(dxb);
    }
  });
});

// Row strides that are multiples of 4 take the vec4 path for dY (N itself need not be one).
const ALIGNED_SHAPES = [
  { M: 1, N: 4, K: 4, ldy: 4 },
  { M: 37, N: 52, K: 36, ldy: 56 },
  { M: 65, N: 130, K: 100, ldy: 132 },
  { M: 3, N: 7, K: 260, ldy: 8 },
];

describe.each([
  ['f32', 'f16'],
  ['f16', 'f16'],
  ['f16', 'nof16'],
  ['bf16', 'f16'],
] as [WeightDtype, 'f16' | 'nof16'][])('matmulInputGrad with %s weights (device %s), aligned dY rows', (dtype, variant) => {
  it.each(ALIGNED_SHAPES)('M=$M N=$N K=$K ldy=$ldy, alpha, with and without accumulate', async ({ M, N, K, ldy }) => {
    const gpu = await testGpu(variant);
    const dy = f32(randomArray(M * ldy, 31 + M));
    const w = testMatrix(gpu, dtype, N, K, randomArray(N * K, 32 + N));
    const dx0 = f32(randomArray(M * K, 33, 2));
    const dyb = uploadBuffer(gpu, Float32Array.from(dy));
    for (const accumulate of [false, true]) {
      const dxb = uploadBuffer(gpu, Float32Array.from(dx0));
      const rec = new Recorder(gpu);
      matmulInputGrad(rec, { dy: dyb, w: w.gpu, dx: dxb, M, alpha: 0.375, accumulate, ldy });
      rec.submit();
      const got = await readF32(gpu, dxb, 0, M * K);
      const want = Float64Array.from(dx0);
      matmulInputGradCpu({ dy, w: w.cpu, dx: want, M, alpha: 0.375, accumulate, ldy });
      expectClose(got, want, TOL, `dX ${dtype} accumulate=${accumulate}`);
      gpu.pool.release(dxb);
    }
  });
});

describe('matmulInputGrad over a weight split into row chunks', () => {
  it.each([false, true])('adds up every chunk (accumulate=%s)', async (accumulate) => {
    const gpu = await testGpu();
    const M = 9, N = 70, K = 12;
    const dy = f32(randomArray(M * N, 25));
    const w = testMatrix(gpu, 'f16', N, K, randomArray(N * K, 26), 16);
    expect(w.gpu.chunks.length).toBe(5);
    const dx0 = f32(randomArray(M * K, 27));
    const dyb = uploadBuffer(gpu, Float32Array.from(dy));
    const dxb = uploadBuffer(gpu, Float32Array.from(dx0));
    const rec = new Recorder(gpu);
    matmulInputGrad(rec, { dy: dyb, w: w.gpu, dx: dxb, M, accumulate });
    rec.submit();
    const want = Float64Array.from(dx0);
    matmulInputGradCpu({ dy, w: w.cpu, dx: want, M, accumulate });
    expectClose(await readF32(gpu, dxb, 0, M * K), want, TOL, 'chunked dX');
  });

  it.each([false, true])('adds up every chunk, dY rows aligned and one chunk not (accumulate=%s)', async (accumulate) => {
    const gpu = await testGpu();
    // Chunks of 16 rows start at multiples of 4; chunks of 6 rows do not (the second starts at 6).
    for (const chunkRows of [16, 6]) {
      const M = 9, N = 70, K = 12, ldy = 72;
      const dy = f32(randomArray(M * ldy, 35));
      const w = testMatrix(gpu, 'f16', N, K, randomArray(N * K, 36), chunkRows);
      const dx0 = f32(randomArray(M * K, 37));
      const dyb = uploadBuffer(gpu, Float32Array.from(dy));
      const dxb = uploadBuffer(gpu, Float32Array.from(dx0));
      const rec = new Recorder(gpu);
      matmulInputGrad(rec, { dy: dyb, w: w.gpu, dx: dxb, M, accumulate, ldy });
      rec.submit();
      const want = Float64Array.from(dx0);
      matmulInputGradCpu({ dy, w: w.cpu, dx: want, M, accumulate, ldy });
      expectClose(await readF32(gpu, dxb, 0, M * K), want, TOL, `chunked dX (${chunkRows}-row chunks)`);
    }
  });
});

describe('matmulInputGrad with N = 0', () => {
  it('writes zeros, or leaves dX as it is when accumulating', async () => {
    const gpu = await testGpu();
    const M = 3, K = 8;
    const w = testMatrix(gpu, 'f32', 0, K, new Float64Array(0));
    expect(w.gpu.chunks.length).toBe(0);
    const dyb = uploadBuffer(gpu, new Float32Array(4));
    for (const accumulate of [false, true]) {
      const dxb = uploadBuffer(gpu, new Float32Array(M * K).fill(2));
      const rec = new Recorder(gpu);
      matmulInputGrad(rec, { dy: dyb, w: w.gpu, dx: dxb, M, accumulate });
      rec.submit();
      expect(Array.from(await readF32(gpu, dxb, 0, M * K))).toEqual(new Array(M * K).fill(accumulate ? 2 : 0));
    }
  });
});

// N and K multiples of 4 (rows are read as vec4) but not of anything larger; M odd. The thin shapes
// are LoRA's dA [r, K] and dB [N, r].
const WEIGHT_SHAPES = [
  { M: 1, N: 4, K: 4 },
  { M: 37, N: 52, K: 36 },
  { M: 131, N: 8, K: 100 },
  { M: 65, N: 132, K: 8 },
  { M: 0, N: 12, K: 20 },
];

describe('matmulWeightGrad', () => {
  it.each(WEIGHT_SHAPES)('M=$M N=$N K=$K, strided dY and X, alpha, with and without accumulate', async ({ M, N, K }) => {
    const gpu = await testGpu();
    const ldy = N + 4;
    const ldx = K + 8;
    const dy = f32(randomArray(M * ldy, 31 + M));
    const x = f32(randomArray(M * ldx, 32 + N));
    const dw0 = f32(randomArray(N * K, 33, 2));
    // X sits 256 bytes into its buffer, reached through a binding offset.
    const xPad = 64;
    const xAll = new Float32Array(xPad + Math.max(M * ldx, 4)).fill(NaN);
    xAll.set(Float32Array.from(x), xPad);
    const dyb = uploadBuffer(gpu, Float32Array.from(M > 0 ? dy : [0, 0, 0, 0]));
    const xb = uploadBuffer(gpu, xAll);
    for (const accumulate of [false, true]) {
      const dwb = uploadBuffer(gpu, Float32Array.from(dw0));
      const rec = new Recorder(gpu);
      matmulWeightGrad(rec, { dy: dyb, x: { buffer: xb, offset: xPad * 4 }, dw: dwb, M, N, K, alpha: 1.5, accumulate, ldy, ldx });
      rec.submit();
      const got = await readF32(gpu, dwb, 0, N * K);
      const want = Float64Array.from(dw0);
      matmulWeightGradCpu({ dy, x, dw: want, M, N, K, alpha: 1.5, accumulate, ldy, ldx });
      expectClose(got, want, TOL, `dW accumulate=${accumulate}`);
      gpu.pool.release(dwb);
    }
  });

  it('repeats bit for bit', async () => {
    const gpu = await testGpu();
    const M = 257, N = 16, K = 64;
    const dyb = uploadBuffer(gpu, Float32Array.from(randomArray(M * N, 35)));
    const xb = uploadBuffer(gpu, Float32Array.from(randomArray(M * K, 36)));
    const runs: Uint32Array[] = [];
    for (let i = 0; i < 2; i++) {
      const dwb = uploadBuffer(gpu, new Float32Array(N * K));
      const rec = new Recorder(gpu);
      matmulWeightGrad(rec, { dy: dyb, x: xb, dw: dwb, M, N, K });
      rec.submit();
      runs.push(new Uint32Array((await readF32(gpu, dwb, 0, N * K)).buffer));
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it('refuses widths that are not multiples of 4', async () => {
    const gpu = await testGpu();
    const b = uploadBuffer(gpu, new Float32Array(64));
    const rec = new Recorder(gpu);
    expect(() => matmulWeightGrad(rec, { dy: b, x: b, dw: b, M: 2, N: 6, K: 4 })).toThrow(/N = 6/);
    expect(() => matmulWeightGrad(rec, { dy: b, x: b, dw: b, M: 2, N: 4, K: 4, ldx: 5 })).toThrow(/ldx = 5/);
  });
});
