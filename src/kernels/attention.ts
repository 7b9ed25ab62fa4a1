// Causal attention with GQA, flash-style (online softmax, no [T, T] matrix), and its gradient
// FlashAttention-2 style (Di = rowsum(dO * O), one pass for dQ, one for dK/dV; no atomics).
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence,
// nH = query heads, nKV = key/value heads, D = head dim, R = B*T.
// q, dQ: [R, nH, D]   k, v, dK, dV: [B, S, nKV, D]   o, dO: [R, nH, D]   lse: [R, nH]
// Query (b, t) is at position p0 + t and sees keys s with lo <= s <= p0 + t, where lo = 0 or,
// with a sliding window W, p0 + t - W + 1. A score is q.k * scale (scale = 1/sqrt(D) unless given),
// soft-capped to cap * tanh(score / cap) before the softmax when a softcap is given (Gemma).

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import { zeroSeg } from './segments.ts';
import tanhWgsl from '../../shaders/tanh.wgsl?raw';
import attentionCommonWgsl from '../../shaders/attention_common.wgsl?raw';
import attentionWgsl from '../../shaders/attention.wgsl?raw';
import attentionBackwardDiWgsl from '../../shaders/attention_backward_di.wgsl?raw';
import attentionBackwardCommonWgsl from '../../shaders/attention_backward_common.wgsl?raw';
import attentionBackwardDqWgsl from '../../shaders/attention_backward_dq.wgsl?raw';
import attentionBackwardDkvWgsl from '../../shaders/attention_backward_dkv.wgsl?raw';

export interface AttentionArgs<Buf> {
  q: Buf;
  k: Buf;
  v: Buf;
  o: Buf;
  lse: Buf;
  B: number;
  T: number;
  S: number;
  p0: number;
  nH: number;
  nKV: number;
  D: number;
  /** Sliding window in positions; 0 = none. */
  window: number;
  /** seg: [B*T] u32, the key slot where each row's document starts (packed rows); absent = 0. */
  seg?: Buf;
  /** Multiplies q.k; default 1/sqrt(D) (Gemma 3: query_pre_attn_scalar^-0.5). */
  scale?: number;
  /** Scores become softcap * tanh(score / softcap) before the mask and softmax; absent or null = none. */
  softcap?: number | null;
}

const scaleOf = (a: AttentionArgs<unknown>) => a.scale ?? 1 / Math.sqrt(a.D);

function attentionParams(a: AttentionArgs<unknown>): ArrayBuffer {
  if (a.D % 4 !== 0) throw new Error(`attention: head dim ${a.D} is not a multiple of 4 (rows are read as vec4)`);
  if (a.softcap !== undefined && a.softcap !== null && !(a.softcap > 0)) throw new Error(`attention: the softcap must be positive, got ${a.softcap}`);
  return params([
    ['u', a.B * a.T], ['u', a.T], ['u', a.S], ['u', a.p0],
    ['u', a.nH], ['u', a.nKV], ['u', a.window], ['f', scaleOf(a)],
    ['u', a.D / 4], ['f', a.softcap ?? 0],
  ]);
}

/**
 * The work layout of one kernel on this device (invocations per workgroup, rows per invocation),
 * and SOFTCAP, a compile-time switch so models without a softcap run the kernels they always ran.
 */
function layout(rec: Recorder, a: AttentionArgs<unknown>, kernel: 'forward' | 'dq' | 'dkv'): { consts: Record<string, number>; rowsPerGroup: number } {
  const t = rec.gpu.tuning.attention;
  const rows = t[`${kernel}Rows`];
  return { consts: { HEAD_DIM: a.D, TILE: t.tile, ROWS: rows, SOFTCAP: a.softcap ? 1 : 0 }, rowsPerGroup: t.tile * rows };
}

/** cap * tanh(x / cap), or x without a cap. */
function capped(x: number, cap: number | null | undefined): number {
  return cap ? cap * Math.tanh(x / cap) : x;
}

export function attentionForward(rec: Recorder, a: AttentionArgs<GPUBuffer>): void {
  if (a.B * a.T === 0) return;
  const { consts, rowsPerGroup } = layout(rec, a, 'forward');
  const pipeline = rec.gpu.pipelines.get({ name: 'attention', parts: [tanhWgsl, attentionCommonWgsl, attentionWgsl], consts });
  rec.dispatch(pipeline, attentionParams(a), [a.q, a.k, a.v, a.o, a.lse, a.seg ?? zeroSeg(rec, a.B * a.T)], [Math.ceil(a.T / rowsPerGroup), a.nH, a.B]);
}

export function attentionForwardCpu(a: AttentionArgs<Float64Array>): void {
  const { D, nH, nKV } = a;
  const scale = scaleOf(a);
  for (let r = 0; r < a.B * a.T; r++) {
    const b = Math.floor(r / a.T);
    const pos = a.p0 + (r % a.T);
    const lo = Math.max(a.seg?.[r] ?? 0, a.window > 0 ? pos - a.window + 1 : 0);
    for (let h = 0; h < nH; h++) {
      const kvh = Math.floor(h / (nH / nKV));
      const qb = (r * nH + h) * D;
      const scores: number[] = [];
      for (let s = lo; s <= pos; s++) {
        const kb = ((b * a.S + s) * nKV + kvh) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += a.q[qb + d]! * a.k[kb + d]!;
        scores.push(capped(dot * scale, a.softcap));
      }
      const m = Math.max(...scores);
      const l = scores.reduce((acc, x) => acc + Math.exp(x - m), 0);
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let s = lo; s <= pos; s++) acc += Math.exp(scores[s - lo]! - m) * a.v[((b * a.S + s) * nKV + kvh) * D + d]!;
        a.o[qb + d] = acc / l;
      }
      a.lse[r * nH + h] = m + Math.log(l);
    }
  }
}

export type AttentionBackwardArgs<Buf> = AttentionArgs<Buf> & {
  /** dL/dO. [R, nH, D] */
  dO: Buf;
  /** dL/dq, written. [R, nH, D] */
  dQ: Buf;
  /** dL/dk, dL/dv, written (not accumulated); slots no query attends to get 0. [B, S, nKV, D] */
  dK: Buf;
  dV: Buf;
};

/**
 * Gradient of attentionForward with respect to q, k and v, from the forward's o and lse.
 * Three dispatches: Di = rowsum(dO * o) into a temporary [R, nH] buffer; dQ, by (query rows, head);
 * dK/dV, by (sequence, key slots, kv head). How many rows each invocation owns is the device's
 * (gpu.tuning.attention, see attention_common.wgsl).
 */
export function attentionBackward(rec: Recorder, a: AttentionBackwardArgs<GPUBuffer>): void {
  const R = a.B * a.T;
  if (R === 0) return;
  const p = attentionParams(a);
  const diPipeline = rec.gpu.pipelines.get({ name: 'attention_backward_di', parts: [attentionBackwardDiWgsl], consts: { HEAD_DIM: a.D } });
  const stats = rec.temp(R * a.nH * 8, undefined, 'attention lse+Di'); // [R, nH] vec2: one binding, so seg fits in 8
  rec.dispatch(diPipeline, params([['u', R * a.nH]]), [a.o, a.dO, a.lse, stats], grid1d(rec.gpu, R * a.nH, 64));
  const seg = a.seg ?? zeroSeg(rec, R);
  const dq = layout(rec, a, 'dq');
  const dqPipeline = rec.gpu.pipelines.get({ name: 'attention_backward_dq', parts: [tanhWgsl, attentionCommonWgsl, attentionBackwardCommonWgsl, attentionBackwardDqWgsl], consts: dq.consts });
  rec.dispatch(dqPipeline, p, [a.q, a.k, a.v, a.dO, stats, seg, a.dQ], [Math.ceil(a.T / dq.rowsPerGroup), a.nH, a.B]);
  const dkv = layout(rec, a, 'dkv');
  const dkvPipeline = rec.gpu.pipelines.get({ name: 'attention_backward_dkv', parts: [tanhWgsl, attentionCommonWgsl, attentionBackwardCommonWgsl, attentionBackwardDkvWgsl], consts: dkv.consts });
  rec.dispatch(dkvPipeline, p, [a.q, a.k, a.v, a.dO, stats, seg, a.dK, a.dV], [Math.ceil(a.S / dkv.rowsPerGroup), a.nKV, a.B]);
}

/**
 * Float64 reference, computed directly: the softmax of each (query row, head) is materialized from
 * q and k (o and lse are not read), then dP = dO.v, dS = P * (dP - sum(P * dP)) (times
 * 1 - tanh^2 through a softcap), dQ = scale * dS @ K, dK += scale * dS^T q, dV += P^T dO.
 */
export function attentionBackwardCpu(a: AttentionBackwardArgs<Float64Array>): void {
  const { D, nH, nKV } = a;
  const scale = scaleOf(a);
  const cap = a.softcap ?? null;
  a.dK.fill(0);
  a.dV.fill(0);
  for (let r = 0; r < a.B * a.T; r++) {
    const b = Math.floor(r / a.T);
    const pos = a.p0 + (r % a.T);
    const lo = Math.max(a.seg?.[r] ?? 0, a.window > 0 ? pos - a.window + 1 : 0);
    for (let h = 0; h < nH; h++) {
      const kvh = Math.floor(h / (nH / nKV));
      const qb = (r * nH + h) * D;
      const n = pos - lo + 1;
      const kAt = (s: number): number => ((b * a.S + s) * nKV + kvh) * D;
      const scores = new Float64Array(n);
      const dP = new Float64Array(n);
      for (let s = lo; s <= pos; s++) {
        let dot = 0;
        let g = 0;
        for (let d = 0; d < D; d++) {
          dot += a.q[qb + d]! * a.k[kAt(s) + d]!;
          g += a.dO[qb + d]! * a.v[kAt(s) + d]!;
        }
        scores[s - lo] = capped(dot * scale, cap);
        dP[s - lo] = g;
      }
      const m = Math.max(...scores);
      let l = 0;
      for (let j = 0; j < n; j++) l += Math.exp(scores[j]! - m);
      const P = scores.map((x) => Math.exp(x - m) / l);
      let di = 0;
      for (let j = 0; j < n; j++) di += P[j]! * dP[j]!;
      const dq = new Float64Array(D);
      for (let s = lo; s <= pos; s++) {
        const j = s - lo;
        // Through a softcap, d capped / d score = 1 - (capped / cap)^2.
        const ds = P[j]! * (dP[j]! - di) * (cap ? 1 - (scores[j]! / cap) ** 2 : 1);
        const kb = kAt(s);
        for (let d = 0; d < D; d++) {
          dq[d] = dq[d]! + scale * ds * a.k[kb + d]!;
          a.dK[kb + d] = a.dK[kb + d]! + scale * ds * a.q[qb + d]!;
          a.dV[kb + d] = a.dV[kb + d]! + P[j]! * a.dO[qb + d]!;
        }
      }
      a.dQ.set(dq, qb);
    }
  }
}
