// Causal attention with GQA, flash-style (online softmax, no [T, T] matrix).
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence,
// nH = query heads, nKV = key/value heads, D = head dim, R = B*T.
// q: [R, nH, D]   k, v: [B, S, nKV, D]   o: [R, nH, D]   lse: [R, nH]
// Query (b, t) is at position p0 + t and sees keys s with lo <= s <= p0 + t, where lo = 0 or,
// with a sliding window W, p0 + t - W + 1.

import type { Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import attentionWgsl from '../../shaders/attention.wgsl?raw';

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
}

export function attentionForward(rec: Recorder, a: AttentionArgs<GPUBuffer>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'attention', parts: [attentionWgsl], consts: { HEAD_DIM: a.D } });
  const R = a.B * a.T;
  const p = params([
    ['u', R], ['u', a.T], ['u', a.S], ['u', a.p0],
    ['u', a.nH], ['u', a.nKV], ['u', a.window], ['f', 1 / Math.sqrt(a.D)],
  ]);
  rec.dispatch(pipeline, p, [a.q, a.k, a.v, a.o, a.lse], grid1d(rec.gpu, R * a.nH, 64));
}

export function attentionForwardCpu(a: AttentionArgs<Float64Array>): void {
  const { D, nH, nKV } = a;
  const scale = 1 / Math.sqrt(D);
  for (let r = 0; r < a.B * a.T; r++) {
    const b = Math.floor(r / a.T);
    const pos = a.p0 + (r % a.T);
    const lo = a.window > 0 ? Math.max(0, pos - a.window + 1) : 0;
    for (let h = 0; h < nH; h++) {
      const kvh = Math.floor(h / (nH / nKV));
      const qb = (r * nH + h) * D;
      const scores: number[] = [];
      for (let s = lo; s <= pos; s++) {
        const kb = ((b * a.S + s) * nKV + kvh) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += a.q[qb + d]! * a.k[kb + d]!;
        scores.push(dot * scale);
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
