// matmulForward (with and without LoRA's term) and matmulInputGrad (the 8-column load_w8 kernel and
// the 4-column load_w4 one) on weights kept in ggml's block formats, dequantized inside the kernels,
// against a float64 CPU product of ggml's own dequantization of ggml's own quantization.
// Dimension key: M = tokens, N = out_features (rows of W), K = in_features, r4 = LoRA rank padded to 4.
// X: [M, K]   W: [N, K] quantized   Y: [M, ldy]   dY: [M, ldy]   dX: [M, K]   U: [M, r4]   B: [N, r4]

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { matmulForward, matmulForwardCpu, matmulInputGrad, matmulInputGradCpu } from '../../src/kernels/matmul.ts';
import { QUANT_TYPES } from '../../src/quant/ggml-types.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { testQuantMatrix } from '../helpers/quant-weights.ts';
import { quantShapes } from '../helpers/quant-shapes.ts';
import { testMatrix } from '../helpers/weights.ts';

// f32 accumulation over at most 768 products of values in [-1, 1], as the float kernels' tests allow.
const TOL = { abs: 1e-5, rel: 1e-4 };

describe.each(QUANT_TYPES)('matmul with %s weights', (type) => {
  it.each(quantShapes(type))('forward M=$M N=$N K=$K chunkRows=$chunkRows, alpha and accumulate', async ({ M, N, K, chunkRows }) => {
    const gpu = await testGpu();
    const x = f32(randomArray(M * K, 1 + M));
    const w = testQuantMatrix(gpu, type, N, K, randomArray(N * K, 2 + N), chunkRows);
    if (chunkRows) expect(w.gpu.chunks.length).toBe(Math.ceil(N / chunkRows));
    // A bias only where W is one chunk (the kernel refuses it on a chunked weight).
    const bias = chunkRows ? undefined : f32(randomArray(N, 3));
    const ldy = N + 3;
    const col0 = 2;
    const y0 = f32(randomArray(M * ldy, 4));
    const [xb, yb] = [x, y0].map((a) => uploadBuffer(gpu, Float32Array.from(a))) as [GPUBuffer, GPUBuffer];
    const bb = bias && uploadBuffer(gpu, Float32Array.from(bias));
    const rec = new Recorder(gpu);
    matmulForward(rec, { x: xb, w: w.gpu, y: yb, M, bias: bb, alpha: 0.75, accumulate: true, ldy, col0 });
    rec.submit();
    const want = Float64Array.from(y0);
    matmulForwardCpu({ x, w: w.cpu, y: want, M, bias, alpha: 0.75, accumulate: true, ldy, col0 });
    expectClose(await readF32(gpu, yb, 0, M * ldy), want, TOL, `matmul ${type}`);
  });

  it.each(quantShapes(type))("forward with LoRA's term M=$M N=$N K=$K chunkRows=$chunkRows", async ({ M, N, K, chunkRows }) => {
    const gpu = await testGpu();
    const r4 = 8;
    const x = f32(randomArray(M * K, 5 + M));
    const w = testQuantMatrix(gpu, type, N, K, randomArray(N * K, 6 + N), chunkRows);
    const u = f32(randomArray(M * r4, 7));
    const b = testMatrix(gpu, 'f32', N, r4, randomArray(N * r4, 8));
    const y0 = f32(randomArray(M * N, 9));
    const [xb, ub, yb] = [x, u, y0].map((a) => uploadBuffer(gpu, Float32Array.from(a))) as [GPUBuffer, GPUBuffer, GPUBuffer];
    const rec = new Recorder(gpu);
    matmulForward(rec, { x: xb, w: w.gpu, y: yb, M, accumulate: true, lora: { u: ub, b: b.gpu, scale: -1.25 } });
    rec.submit();
    const want = Float64Array.from(y0);
    matmulForwardCpu({ x, w: w.cpu, y: want, M, accumulate: true, lora: { u, b: b.cpu, scale: -1.25 } });
    expectClose(await readF32(gpu, yb, 0, M * N), want, TOL, `matmul + LoRA ${type}`);
  });

  describe.each([
    ['load_w8', false],
    ['load_w4', true],
  ] as const)('input gradient through %s', (_reader, narrow) => {
    it.each(quantShapes(type))('M=$M N=$N K=$K chunkRows=$chunkRows, dY wider than N, with and without accumulate', async ({ M, N, K, chunkRows }) => {
      const gpu = await testGpu();
      const ldy = N + 5;
      const dy = f32(randomArray(M * ldy, 21 + M));
      const w = testQuantMatrix(gpu, type, N, K, randomArray(N * K, 22 + N), chunkRows);
      const dx0 = f32(randomArray(M * K, 23, 2));
      const dyb = uploadBuffer(gpu, Float32Array.from(dy));
      for (const accumulate of [false, true]) {
        const dxb = uploadBuffer(gpu, Float32Array.from(dx0));
        const rec = new Recorder(gpu);
        matmulInputGrad(rec, { dy: dyb, w: w.gpu, dx: dxb, M, alpha: -0.625, accumulate, ldy, narrow });
        rec.submit();
        const want = Float64Array.from(dx0);
        matmulInputGradCpu({ dy, w: w.cpu, dx: want, M, alpha: -0.625, accumulate, ldy });
        expectClose(await readF32(gpu, dxb, 0, M * K), want, TOL, `dX ${type} accumulate=${accumulate}`);
        gpu.pool.release(dxb);
      }
    });
  });
});
