// softcapForward (GPU) vs its twin, and the softcapped cross-entropy gradient: crossEntropyBackward
// with `softcap` over vocabulary chunks of capped logits vs its twin, and the twin vs central finite
// differences of the loss of softcapped logits (so it is d loss / d raw logits).
// Dimension key: N = values, R = rows, Vc = vocab columns per chunk, nC = chunks, V = nC * Vc.
// x: [N] f32   logits: [R, V] (one [R, Vc] buffer per chunk)   targets: [R] i32   state: [R, 4]

import { describe, expect, it } from 'vitest';
import { Recorder, readF32, uploadBuffer } from '../../src/gpu/recorder.ts';
import { crossEntropyBackward, crossEntropyBackwardCpu, crossEntropyChunkForward, crossEntropyChunkForwardCpu, IGNORE_INDEX } from '../../src/kernels/cross-entropy.ts';
import { softcapForward, softcapForwardCpu } from '../../src/kernels/softcap.ts';
import { expectClose, f32, randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';

describe('softcap (GPU)', () => {
  // Odd sizes; values from tiny (Taylor branch) to far past the cap and to where exp overflows.
  it.each([
    { N: 1, cap: 30 },
    { N: 63, cap: 30 },
    { N: 1000, cap: 2.5 },
    { N: 4099, cap: 50 },
  ])('N=$N cap=$cap', async ({ N, cap }) => {
    const gpu = await testGpu();
    const x = f32(randomArray(N, 5 + N, 4 * cap));
    const special = [0, 1e-6, -1e-6, 0.02 * cap, -0.02 * cap, 1e3 * cap, -1e3 * cap, 3e38, -3e38];
    for (let i = 0; i < Math.min(N, special.length); i++) x[(i * 11) % N] = Math.fround(special[i]!);
    const xb = uploadBuffer(gpu, Float32Array.from(x));
    const rec = new Recorder(gpu);
    softcapForward(rec, { x: xb, N, cap });
    rec.submit();
    const got = await readF32(gpu, xb, 0, N);
    gpu.pool.release(xb);
    const want = Float64Array.from(x);
    softcapForwardCpu({ x: want, N, cap });
    for (const v of got) expect(Math.abs(v)).toBeLessThanOrEqual(cap);
    expectClose(got, want, { abs: 1e-6 * cap, rel: 1e-5 }, 'softcap');
  });

  it('refuses a cap that is not positive', async () => {
    const gpu = await testGpu();
    const rec = new Recorder(gpu);
    expect(() => softcapForward(rec, { x: uploadBuffer(gpu, new Float32Array(4)), N: 4, cap: 0 })).toThrow(/positive/);
  });
});

describe('cross-entropy backward through a softcap', () => {
  it('the twin is d loss / d raw logits (finite differences)', () => {
    const R = 3, V = 7, cap = 2;
    const raw = randomArray(R * V, 31, 5);
    const targets = Int32Array.from([2, IGNORE_INDEX, 6]);
    const loss = (): number => {
      const capped = Float64Array.from(raw);
      softcapForwardCpu({ x: capped, N: R * V, cap });
      const state = new Float64Array(R * 4);
      crossEntropyChunkForwardCpu({ logits: capped, targets, state, R, Vc: V, v0: 0, first: true });
      let s = 0;
      for (let r = 0; r < R; r++) if (targets[r] !== IGNORE_INDEX) s += state[r * 4]! + Math.log(state[r * 4 + 1]!) - state[r * 4 + 2]!;
      return s * 0.5;
    };
    const capped = Float64Array.from(raw);
    softcapForwardCpu({ x: capped, N: R * V, cap });
    const state = new Float64Array(R * 4);
    crossEntropyChunkForwardCpu({ logits: capped, targets, state, R, Vc: V, v0: 0, first: true });
    crossEntropyBackwardCpu({ logits: capped, targets, state, R, Vc: V, v0: 0, scale: 0.5, softcap: cap });
    const h = 1e-6;
    const fd = raw.map((v, i) => {
      raw[i] = v + h;
      const up = loss();
      raw[i] = v - h;
      const down = loss();
      raw[i] = v;
      return (up - down) / (2 * h);
    });
    expectClose(capped, fd, { abs: 1e-8, rel: 1e-6 }, 'dlogits vs finite differences');
  });

  it.each([
    { R: 7, Vc: 37, nC: 3, cap: 3 },
    { R: 9, Vc: 100, nC: 4, cap: 30 },
    { R: 3, Vc: 5, nC: 7, cap: 0.5 },
  ])('GPU vs twin: R=$R Vc=$Vc chunks=$nC cap=$cap', async ({ R, Vc, nC, cap }) => {
    const gpu = await testGpu();
    const V = Vc * nC;
    const raw = f32(randomArray(R * V, 61 + Vc, 4 * cap));
    const targets = new Int32Array(R);
    for (let r = 0; r < R; r++) targets[r] = r % 3 === 2 ? IGNORE_INDEX : (r * 13 + 5) % V;
    const scale = 1 / targets.filter((t) => t !== IGNORE_INDEX).length;
    const tb = uploadBuffer(gpu, targets);
    const sb = uploadBuffer(gpu, new Float32Array(R * 4).fill(NaN));
    const chunk = (c: number) => Float32Array.from({ length: R * Vc }, (_, i) => raw[Math.floor(i / Vc) * V + c * Vc + (i % Vc)]!);
    const bufs = Array.from({ length: nC }, (_, c) => uploadBuffer(gpu, chunk(c)));
    let rec = new Recorder(gpu);
    bufs.forEach((b, c) => {
      softcapForward(rec, { x: b, N: R * Vc, cap });
      crossEntropyChunkForward(rec, { logits: b, targets: tb, state: sb, R, Vc, v0: c * Vc, first: c === 0 });
    });
    rec.submit();
    rec = new Recorder(gpu);
    bufs.forEach((b, c) => crossEntropyBackward(rec, { logits: b, targets: tb, state: sb, R, Vc, v0: c * Vc, scale, softcap: cap }));
    rec.submit();
    const state = Float64Array.from(await readF32(gpu, sb, 0, R * 4));
    for (let c = 0; c < nC; c++) {
      const got = await readF32(gpu, bufs[c]!, 0, R * Vc);
      // The twin from the same capped logits and the GPU's final state.
      const want = Float64Array.from(chunk(c));
      softcapForwardCpu({ x: want, N: R * Vc, cap });
      crossEntropyBackwardCpu({ logits: want, targets, state, R, Vc, v0: c * Vc, scale, softcap: cap });
      expectClose(got, want, { abs: 1e-6, rel: 1e-4 }, `chunk ${c}`);
    }
    for (const b of [tb, sb, ...bufs]) gpu.pool.release(b);
  });
});
