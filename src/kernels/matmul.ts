// Y[:, col0 : col0+N] = (accumulate ? Y : 0) + alpha * X @ W^T + bias (+ LoRA's scale * U B^T)
// and its gradients: dX = dY @ W (frozen W, any dtype), dW = dY^T @ X (f32, trainable weights).
// Dimension key: M = rows of X (tokens), K = in_features, N = out_features (rows of W).
// X: [M, K] f32   W: [N, K] GpuMatrix   Y, dY: [M, ldy] f32   bias: [N] f32   dX: [M, K]   dW: [N, K] f32
// Residual adds ride on `accumulate`, and LoRA's scaled B(Ax) on `lora`, in the product's epilogue
// instead of separate passes over Y. W in a ggml block format is dequantized as the kernels read it
// (matmul_quant.wgsl, matmul_input_grad_quant.wgsl).

import type { Binding, Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import matmulWgsl from '../../shaders/matmul.wgsl?raw';
import matmulQuantWgsl from '../../shaders/matmul_quant.wgsl?raw';
import matmulLoraWgsl from '../../shaders/matmul_lora.wgsl?raw';
import matmulLoraNoneWgsl from '../../shaders/matmul_lora_none.wgsl?raw';
import matmulInputGradWgsl from '../../shaders/matmul_input_grad.wgsl?raw';
import matmulInputGrad8Wgsl from '../../shaders/matmul_input_grad8.wgsl?raw';
import matmulInputGradQuantWgsl from '../../shaders/matmul_input_grad_quant.wgsl?raw';
import matmulDyF32Wgsl from '../../shaders/matmul_dy_f32.wgsl?raw';
import matmulDyVec4Wgsl from '../../shaders/matmul_dy_vec4.wgsl?raw';
import matmulWeightGradWgsl from '../../shaders/matmul_weight_grad.wgsl?raw';
import { type GpuMatrix, isQuantDtype, WEIGHT_READER_8, weightReader } from './weights.ts';

export interface MatmulArgs<Buf, Mat> {
  x: Buf;
  w: Mat;
  y: Buf;
  M: number;
  bias?: Buf;
  alpha?: number;
  accumulate?: boolean;
  /** Row stride of Y (default N). */
  ldy?: number;
  /** First column of Y written (default 0). */
  col0?: number;
  /**
   * LoRA's term, added in the same pass: y += scale * u b^T, with u = x A^T: [M, r4] and b: [N, r4]
   * f32 in one chunk (r4 a multiple of 4).
   */
  lora?: { u: Buf; b: Mat; scale: number };
}

export function matmulForward(rec: Recorder, a: MatmulArgs<GPUBuffer | Binding, GpuMatrix>): void {
  const { w, M, lora } = a;
  if (M === 0) return;
  const t = rec.gpu.tuning.matmul.forward;
  const reader = weightReader(rec.gpu, w.dtype, t.f16Packed);
  const pipeline = rec.gpu.pipelines.get({
    name: `matmul_${w.dtype}${w.dtype === 'f16' && !reader.f16 ? '_packed' : ''}${lora ? '_lora' : ''}`,
    // Block formats: the K loop steps by sub-blocks, decoding each row's scale once per sub-block.
    parts: [reader.part, lora ? matmulLoraWgsl : matmulLoraNoneWgsl, isQuantDtype(w.dtype) ? matmulQuantWgsl : matmulWgsl],
    consts: { COLS4: t.cols / 4, WG_X: t.wgX, WG_Y: t.wgY },
    f16: reader.f16,
  });
  if (a.bias && w.chunks.length > 1) throw new Error('matmul: a bias on a chunked weight is not supported');
  if (lora && (lora.b.dtype !== 'f32' || lora.b.chunks.length !== 1 || lora.b.rows !== w.rows || lora.b.cols % 4 !== 0)) {
    throw new Error(`matmul: LoRA's B must be one f32 chunk of [${w.rows}, r4], r4 a multiple of 4`);
  }
  const dummy = a.bias ?? rec.temp(16);
  for (const c of w.chunks) {
    const p = params([
      ['u', M],
      ['u', c.rows],
      ['u', w.cols],
      ['u', a.ldy ?? w.rows],
      ['u', (a.col0 ?? 0) + c.row0],
      ['f', a.alpha ?? 1],
      ['u', a.accumulate ? 1 : 0],
      ['u', a.bias ? 1 : 0],
      ['f', lora?.scale ?? 0],
      ['u', lora?.b.cols ?? 0],
      ['u', c.row0],
    ]);
    const storage = [c.buffer, a.x, a.y, dummy];
    if (lora) storage.push(lora.u, lora.b.chunks[0]!.buffer);
    // Each invocation computes 4 rows x t.cols columns.
    rec.dispatch(pipeline, p, storage, [Math.ceil(c.rows / (t.cols * t.wgX)), Math.ceil(M / (4 * t.wgY)), 1]);
  }
}

/** CPU twin in float64; `w` is the [N, K] matrix as the GPU sees it (after 16-bit rounding or dequantization). */
export function matmulForwardCpu(a: MatmulArgs<Float64Array, { rows: number; cols: number; data: Float64Array }>): void {
  const { x, w, y, M } = a;
  const N = w.rows;
  const K = w.cols;
  const ldy = a.ldy ?? N;
  const col0 = a.col0 ?? 0;
  const alpha = a.alpha ?? 1;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k]! * w.data[n * K + k]!;
      let l = 0;
      if (a.lora) {
        const r4 = a.lora.b.cols;
        for (let r = 0; r < r4; r++) l += a.lora.u[m * r4 + r]! * a.lora.b.data[n * r4 + r]!;
      }
      const at = m * ldy + col0 + n;
      y[at] = alpha * s + (a.lora ? a.lora.scale * l : 0) + (a.bias ? a.bias[n]! : 0) + (a.accumulate ? y[at]! : 0);
    }
  }
}

type CpuMatrix = { rows: number; cols: number; data: Float64Array };

export interface MatmulInputGradArgs<Buf, Mat> {
  /** dY: [M, ldy]; its first N = w.rows columns are used. */
  dy: Buf;
  /** W: [N, K] (nn.Linear's [out, in]). */
  w: Mat;
  /** dX: [M, K] f32. */
  dx: Buf;
  M: number;
  alpha?: number;
  accumulate?: boolean;
  /** Row stride of dY (default N = w.rows). */
  ldy?: number;
  /** Tests: take the 4-column kernel (load_w4) even when K % 8 == 0. */
  narrow?: boolean;
}

/**
 * dX[M, K] = (accumulate ? dX : 0) + alpha * dY[M, 0:N] @ W[N, K]: the input gradient through a linear
 * layer. A chunked W adds one product per chunk (chunk c multiplies dY columns c.row0 .. c.row0+c.rows);
 * the first honours `accumulate`, the rest accumulate.
 */
export function matmulInputGrad(rec: Recorder, a: MatmulInputGradArgs<GPUBuffer | Binding, GpuMatrix>): void {
  const { w, M } = a;
  if (M === 0 || w.cols === 0) return;
  if (w.cols % 4 !== 0) throw new Error(`matmulInputGrad: K = ${w.cols} is not a multiple of 4`);
  const ldy = a.ldy ?? w.rows;
  if (ldy < w.rows) throw new Error(`matmulInputGrad: ldy = ${ldy} is less than N = ${w.rows}`);
  if (w.chunks.length === 0) {
    // N = 0: the product is zero.
    const dx: Binding = 'buffer' in a.dx ? a.dx : { buffer: a.dx };
    if (!a.accumulate) rec.clear(dx.buffer, dx.offset ?? 0, M * w.cols * 4);
    return;
  }
  // K % 8 == 0 (every real model): 8 columns per invocation, rows and workgroup from the device's
  // tuning. Otherwise 4 columns and 4 rows per invocation in 8x8 workgroups.
  const wide = w.cols % 8 === 0 && !a.narrow;
  const t = rec.gpu.tuning.matmul.inputGrad;
  const [cols, rows, wgX, wgY] = wide ? [8, t.rows, t.wgX, t.wgY] : [4, 4, 8, 8];
  const narrowReader = weightReader(rec.gpu, w.dtype);
  // dY rows are read as vec4 when every chunk's columns start aligned (binding offsets are multiples of 256).
  const pipeline = (aligned: boolean) => {
    const dy = aligned ? matmulDyVec4Wgsl : matmulDyF32Wgsl;
    const suffix = `${w.dtype}_${aligned ? 'dy4' : 'dy1'}`;
    return wide
      ? rec.gpu.pipelines.get({
          name: `matmul_input_grad8_${suffix}`,
          // Block formats: the reader's block and in-block group, fixed by the columns, leave the n loop.
          parts: [WEIGHT_READER_8[w.dtype], dy, isQuantDtype(w.dtype) ? matmulInputGradQuantWgsl : matmulInputGrad8Wgsl],
          consts: { ROWS: rows, WG_X: wgX, WG_Y: wgY },
        })
      : rec.gpu.pipelines.get({ name: `matmul_input_grad_${suffix}`, parts: [narrowReader.part, dy, matmulInputGradWgsl], f16: narrowReader.f16 });
  };
  const grid: [number, number, number] = [Math.ceil(w.cols / cols / wgX), Math.ceil(M / rows / wgY), 1];
  w.chunks.forEach((c, i) => {
    const p = params([
      ['u', M],
      ['u', c.rows],
      ['u', w.cols],
      ['u', ldy],
      ['u', c.row0],
      ['f', a.alpha ?? 1],
      ['u', a.accumulate || i > 0 ? 1 : 0],
      ['u', 0],
    ]);
    rec.dispatch(pipeline(ldy % 4 === 0 && c.row0 % 4 === 0), p, [c.buffer, a.dy, a.dx], grid);
  });
}

/** CPU twin in float64; `w` is the [N, K] matrix as the GPU sees it (after 16-bit rounding or dequantization). */
export function matmulInputGradCpu(a: MatmulInputGradArgs<Float64Array, CpuMatrix>): void {
  const { dy, w, dx, M } = a;
  const N = w.rows;
  const K = w.cols;
  const ldy = a.ldy ?? N;
  const alpha = a.alpha ?? 1;
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dy[m * ldy + n]! * w.data[n * K + k]!;
      const at = m * K + k;
      dx[at] = alpha * s + (a.accumulate ? dx[at]! : 0);
    }
  }
}

export interface MatmulWeightGradArgs<Buf> {
  /** dY: [M, ldy]; its first N columns are used. */
  dy: Buf;
  /** X: [M, ldx]; its first K columns are used. */
  x: Buf;
  /** dW: [N, K] f32. */
  dw: Buf;
  M: number;
  N: number;
  K: number;
  alpha?: number;
  accumulate?: boolean;
  /** Row stride of dY (default N). */
  ldy?: number;
  /** Row stride of X (default K). */
  ldx?: number;
}

/**
 * dW[N, K] = (accumulate ? dW : 0) + alpha * dY[M, N]^T @ X[M, K], all f32: LoRA's dA / dB and the
 * weight gradient of full fine-tuning. N, K, ldy and ldx must be multiples of 4. Every output sums
 * over M in a fixed order, so the result repeats bit for bit.
 */
export function matmulWeightGrad(rec: Recorder, a: MatmulWeightGradArgs<GPUBuffer | Binding>): void {
  const { M, N, K } = a;
  const ldy = a.ldy ?? N;
  const ldx = a.ldx ?? K;
  for (const [name, v] of [['N', N], ['K', K], ['ldy', ldy], ['ldx', ldx]] as const) {
    if (v % 4 !== 0) throw new Error(`matmulWeightGrad: ${name} = ${v} is not a multiple of 4 (rows are read as vec4)`);
  }
  if (ldy < N || ldx < K) throw new Error(`matmulWeightGrad: row strides ldy = ${ldy}, ldx = ${ldx} are below N = ${N}, K = ${K}`);
  if (N === 0 || K === 0) return;
  const pipeline = rec.gpu.pipelines.get({ name: 'matmul_weight_grad', parts: [matmulWeightGradWgsl] });
  const p = params([
    ['u', M],
    ['u', N],
    ['u', K],
    ['u', ldy],
    ['u', ldx],
    ['f', a.alpha ?? 1],
    ['u', a.accumulate ? 1 : 0],
    ['u', 0],
  ]);
  rec.dispatch(pipeline, p, [a.dy, a.x, a.dw], grid1d(rec.gpu, (N / 4) * (K / 4), 64));
}

export function matmulWeightGradCpu(a: MatmulWeightGradArgs<Float64Array>): void {
  const { dy, x, dw, M, N, K } = a;
  const ldy = a.ldy ?? N;
  const ldx = a.ldx ?? K;
  const alpha = a.alpha ?? 1;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += dy[m * ldy + n]! * x[m * ldx + k]!;
      const at = n * K + k;
      dw[at] = alpha * s + (a.accumulate ? dw[at]! : 0);
    }
  }
}
