// Document boundaries inside packed rows, as attention and RoPE read them.
// seg: [R] u32, for each row of a [B, T] batch the index (within its sequence) where its document
// starts; unpacked rows have 0 everywhere. From Hugging Face-style position ids: seg[t] = t - pos[t].

import type { Recorder } from '../gpu/recorder.ts';

/** seg for rows that are not packed: all zeros, alive until the recorder is submitted. */
export function zeroSeg(rec: Recorder, R: number): GPUBuffer {
  const b = rec.temp(R * 4, undefined, 'seg0');
  rec.clear(b);
  return b;
}

/** seg: [B * T] from each sequence's position ids ([T] each; absent = 0, 1, 2, ...). */
export function segmentStarts(positionIds: (ArrayLike<number> | undefined)[], T: number): Uint32Array {
  const seg = new Uint32Array(positionIds.length * T);
  positionIds.forEach((pos, b) => {
    if (!pos) return;
    for (let t = 0; t < T; t++) {
      // Padding past the row's end continues the last document.
      seg[b * T + t] = t < pos.length ? t - pos[t]! : seg[b * T + t - 1] ?? 0;
    }
  });
  return seg;
}
