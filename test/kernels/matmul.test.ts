import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { matmulForward, matmulForwardCpu } from '../../src/kernels/matmul.ts';
import type { WeightDtype } from '../../src/kernels/weights.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { testMatrix } from '../helpers/weights.ts';

// Odd M and N (not multiples of the 32-wide tile), K a multiple of 4 but not of 32.
const SHAPES = [
  { M: 1, N: 1, K: 4 },
  { M: 37, N: 53, K: 36 },
  { M: 65, N: 130, K: 100 },
];

describe.each([
  ['f32', 'f16'],
  ['f16', 'f16'],
  ['f16', 'nof16'],
  ['bf16', 'f16'],
] as [WeightDtype, 'f16' | 'nof16'][])('matmul with %s weights (device %s)', (dtype, variant) => {
  it.each(SHAPES)('M=$M N=$N K=$K with bias, alpha and accumulate', async ({ M, N, K }) => {
    const gpu = await testGpu(variant);
    const x = f32(randomArray(M * K, 1 + M));
    const w = testMatrix(gpu, dtype, N, K, randomArray(N * K, 2 + N));
    const bias = f32(randomArray(N, 3));
    // Y has extra columns: the product lands at col0 inside a wider row, on top of what is there.
    const ldy = N + 3;
    const col0 = 2;
    const y0 = f32(randomArray(M * ldy, 4));
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const yb = uploadBuffer(gpu, Float32Array.from(y0));
    const bb = uploadBuffer(gpu, Float32Array.from(bias));
    const rec = new Recorder(gpu);
    matmulForward(rec, { x: xb, w: w.gpu, y: yb, M, bias: bb, alpha: 0.75, accumulate: true, ldy, col0 });
    rec.submit();
    const got = await readF32(gpu, yb, 0, M * ldy);
    const want = Float64Array.from(y0);
    matmulForwardCpu({ x, w: w.cpu, y: want, M, bias, alpha: 0.75, accumulate: true, ldy, col0 });
    expectClose(got, want, { abs: 1e-5, rel: 1e-4 }, `matmul ${dtype}`);
  });
});

describe('matmul over a weight split into row chunks', () => {
  it('equals the unsplit product', async () => {
    const gpu = await testGpu();
    const M = 9, N = 70, K = 12;
    const x = f32(randomArray(M * K, 5));
    const w = testMatrix(gpu, 'f16', N, K, randomArray(N * K, 6), 16);
    expect(w.gpu.chunks.length).toBe(5);
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const yb = uploadBuffer(gpu, new Float32Array(M * N));
    const rec = new Recorder(gpu);
    matmulForward(rec, { x: xb, w: w.gpu, y: yb, M });
    rec.submit();
    const want = new Float64Array(M * N);
    matmulForwardCpu({ x, w: w.cpu, y: want, M });
    expectClose(await readF32(gpu, yb, 0, M * N), want, { abs: 1e-5, rel: 1e-4 }, 'chunked matmul');
  });
});

describe.each([
  ['f32', 'f16'],
  ['f16', 'f16'],
  ['f16', 'nof16'],
  ['bf16', 'f16'],
] as [WeightDtype, 'f16' | 'nof16'][])("matmul with LoRA's term in the epilogue, %s weights (device %s)", (dtype, variant) => {
  it.each([
    { M: 1, N: 1, K: 4, r4: 4 },
    { M: 37, N: 53, K: 36, r4: 8 },
    { M: 65, N: 130, K: 100, r4: 12 },
  ])('M=$M N=$N K=$K r4=$r4 with bias, alpha and accumulate', async ({ M, N, K, r4 }) => {
    const gpu = await testGpu(variant);
    const x = f32(randomArray(M * K, 7 + M));
    const w = testMatrix(gpu, dtype, N, K, randomArray(N * K, 8 + N));
    const u = f32(randomArray(M * r4, 9));
    const b = testMatrix(gpu, 'f32', N, r4, randomArray(N * r4, 10));
    const bias = f32(randomArray(N, 11));
    const ldy = N + 3;
    const col0 = 1;
    const y0 = f32(randomArray(M * ldy, 12));
    const [xb, ub, yb, bb] = [x, u, y0, bias].map((a) => uploadBuffer(gpu, Float32Array.from(a))) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
    const rec = new Recorder(gpu);
    matmulForward(rec, { x: xb, w: w.gpu, y: yb, M, bias: bb, alpha: 0.75, accumulate: true, ldy, col0, lora: { u: ub, b: b.gpu, scale: -1.25 } });
    rec.submit();
    const want = Float64Array.from(y0);
    matmulForwardCpu({ x, w: w.cpu, y: want, M, bias, alpha: 0.75, accumulate: true, ldy, col0, lora: { u, b: b.cpu, scale: -1.25 } });
    expectClose(await readF32(gpu, yb, 0, M * ldy), want, { abs: 1e-5, rel: 1e-4 }, `matmul + LoRA ${dtype}`);
  });

  it('adds each chunk its own rows of B when the weight is split into row chunks', async () => {
    const gpu = await testGpu(variant);
    const M = 9, N = 70, K = 12, r4 = 8;
    const x = f32(randomArray(M * K, 13));
    const w = testMatrix(gpu, dtype, N, K, randomArray(N * K, 14), 16);
    expect(w.gpu.chunks.length).toBe(5);
    const u = f32(randomArray(M * r4, 15));
    const b = testMatrix(gpu, 'f32', N, r4, randomArray(N * r4, 16));
    const [xb, ub] = [x, u].map((a) => uploadBuffer(gpu, Float32Array.from(a))) as [GPUBuffer, GPUBuffer];
    const yb = uploadBuffer(gpu, new Float32Array(M * N));
    const rec = new Recorder(gpu);
    matmulForward(rec, { x: xb, w: w.gpu, y: yb, M, lora: { u: ub, b: b.gpu, scale: 2 } });
    rec.submit();
    const want = new Float64Array(M * N);
    matmulForwardCpu({ x, w: w.cpu, y: want, M, lora: { u, b: b.cpu, scale: 2 } });
    expectClose(await readF32(gpu, yb, 0, M * N), want, { abs: 1e-5, rel: 1e-4 }, 'chunked matmul + LoRA');
  });
});
