// Cross-entropy over a large vocabulary, one vocabulary chunk at a time: each chunk's logits are
// folded into a running (max, sum-exp, target logit) per row, so [T, V] logits never exist at once.
// Dimension key: R = rows (tokens), Vc = vocab columns in the chunk, v0 = first vocab id of the chunk.
// logits: [R, Vc] f32   targets: [R] i32 (-100 = no target)   state: [R, 4] f32
// Backward: with the final state, each chunk's logits are overwritten by scale * (softmax - onehot),
// times 1 - (logit / cap)^2 when the logits were soft-capped (kernels/softcap.ts) before the loss.

import type { Binding, Recorder } from '../gpu/recorder.ts';
import { grid1d, params } from '../gpu/recorder.ts';
import crossEntropyWgsl from '../../shaders/cross_entropy.wgsl?raw';
import crossEntropyBackwardWgsl from '../../shaders/cross_entropy_backward.wgsl?raw';
import { rowGrid } from './rmsnorm.ts';

export const IGNORE_INDEX = -100;

export interface CrossEntropyChunkArgs<Buf, Tgt> {
  logits: Buf;
  targets: Tgt;
  state: Buf;
  R: number;
  Vc: number;
  v0: number;
  /** First chunk: start the state afresh. */
  first: boolean;
}

export function crossEntropyChunkForward(rec: Recorder, a: CrossEntropyChunkArgs<GPUBuffer | Binding, GPUBuffer | Binding>): void {
  const pipeline = rec.gpu.pipelines.get({ name: 'cross_entropy', parts: [crossEntropyWgsl] });
  const p = params([['u', a.R], ['u', a.Vc], ['u', a.v0], ['u', a.first ? 1 : 0]]);
  rec.dispatch(pipeline, p, [a.logits, a.targets, a.state], rowGrid(rec, a.R));
}

export function crossEntropyChunkForwardCpu(a: CrossEntropyChunkArgs<Float64Array, ArrayLike<number>>): void {
  for (let r = 0; r < a.R; r++) {
    let m = a.first ? -Infinity : a.state[r * 4]!;
    let s = a.first ? 0 : a.state[r * 4 + 1]!;
    let z = a.first ? 0 : a.state[r * 4 + 2]!;
    for (let c = 0; c < a.Vc; c++) {
      const x = a.logits[r * a.Vc + c]!;
      const mNew = Math.max(m, x);
      s = s * Math.exp(m - mNew) + Math.exp(x - mNew);
      m = mNew;
    }
    const t = a.targets[r]!;
    if (t >= a.v0 && t < a.v0 + a.Vc) z = a.logits[r * a.Vc + t - a.v0]!;
    a.state[r * 4] = m;
    a.state[r * 4 + 1] = s;
    a.state[r * 4 + 2] = z;
  }
}

/** Loss of each row with a target from the final state: log-sum-exp minus the target's logit. */
export function lossesFromState(state: ArrayLike<number>, targets: ArrayLike<number>): { sum: number; count: number } {
  let sum = 0;
  let count = 0;
  for (let r = 0; r < targets.length; r++) {
    if (targets[r] === IGNORE_INDEX) continue;
    sum += state[r * 4]! + Math.log(state[r * 4 + 1]!) - state[r * 4 + 2]!;
    count++;
  }
  return { sum, count };
}

export interface CrossEntropyBackwardArgs<Buf, Tgt> {
  /** [R, Vc] logits of one vocabulary chunk; overwritten in place with dlogits. */
  logits: Buf;
  /** [R] i32, IGNORE_INDEX = no target. */
  targets: Tgt;
  /** [R, 4] the final state after every chunk of crossEntropyChunkForward. */
  state: Buf;
  R: number;
  Vc: number;
  v0: number;
  /** d loss / d (row loss): 1 / (rows with a target) for a mean, times any loss scale. */
  scale: number;
  /**
   * The logits are capped values y = cap * tanh(z / cap) (Gemma's final_logit_softcapping): the
   * gradient is carried back to z, times dy/dz = 1 - (y / cap)^2. Absent: no softcap.
   */
  softcap?: number | null;
}

/**
 * dlogits[r, c] = targets[r] == -100 ? 0 : scale * (exp(logit - lse_r) - onehot) [* (1 - (logit / cap)^2)],
 * in place.
 */
export function crossEntropyBackward(rec: Recorder, a: CrossEntropyBackwardArgs<GPUBuffer | Binding, GPUBuffer | Binding>): void {
  if (a.R * a.Vc === 0) return;
  const pipeline = rec.gpu.pipelines.get({ name: 'cross_entropy_backward', parts: [crossEntropyBackwardWgsl] });
  const p = params([['u', a.R], ['u', a.Vc], ['u', a.v0], ['f', a.scale], ['f', a.softcap ?? 0]]);
  rec.dispatch(pipeline, p, [a.logits, a.targets, a.state], grid1d(rec.gpu, a.R * a.Vc, 64));
}

export function crossEntropyBackwardCpu(a: CrossEntropyBackwardArgs<Float64Array, ArrayLike<number>>): void {
  for (let r = 0; r < a.R; r++) {
    const t = a.targets[r]!;
    const lse = a.state[r * 4]! + Math.log(a.state[r * 4 + 1]!);
    for (let c = 0; c < a.Vc; c++) {
      const at = r * a.Vc + c;
      const y = a.logits[at]!;
      const d = t === IGNORE_INDEX ? 0 : a.scale * (Math.exp(y - lse) - (a.v0 + c === t ? 1 : 0));
      a.logits[at] = a.softcap ? d * (1 - (y / a.softcap) ** 2) : d;
    }
  }
}
