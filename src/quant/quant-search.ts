// The scalar pieces ggml's reference quantizers share (ggml-quants.c): nearest_int's rounding trick,
// C's float -> small-int conversions, and the per-sub-block scale searches make_qx_quants (Q6_K),
// make_q3_quants (Q3_K) and make_qkx2_quants (Q2_K, Q4_K, Q5_K). ggml computes in f32 with no fused
// multiply-add (its x86 build has none), so every C float operation becomes a float64 operation
// rounded by Math.fround; for + - * / and sqrt of f32 operands that is exactly the f32 result.
// Layout key: x[xo .. xo+n) are the sub-block's weights, L[lo .. lo+n) its quantized levels.

const f = Math.fround;

/** ggml's GROUP_MAX_EPS (1e-15f): a group this small counts as all zeros. */
export const GROUP_MAX_EPS = f(1e-15);

const niF32 = new Float32Array(1);
const niI32 = new Int32Array(niF32.buffer);

/**
 * nearest_int(fval) for an f32 value: adding 1.5 * 2^23 rounds to an integer (ties to even) in the
 * low mantissa bits. Outside +-2^22 ggml asserts only in debug builds and reads garbage bits; the
 * slow path reads the same bits.
 */
export function nearestInt(fval: number): number {
  const v = f(fval + 12582912);
  if (v >= 8388608 && v < 16777216) return v - 12582912;
  niF32[0] = v;
  return (niI32[0]! & 0x007fffff) - 0x00400000;
}

/**
 * C's float -> int truncation as x86's cvttss2si does it: NaN and out-of-range values give
 * INT32_MIN. ggml casts to (u)int8_t through this, keeping the low byte.
 */
export function truncToInt32(x: number): number {
  return x > -2147483649 && x < 2147483648 ? x | 0 : -2147483648;
}

/** roundf: halves away from zero (x is an f32 value, so x + 0.5 is exact in float64). */
export function roundAway(x: number): number {
  return x < 0 ? -Math.floor(0.5 - x) : Math.floor(x + 0.5);
}

/**
 * make_qx_quants with rmse_type 1 and no importance weights (Q6_K: n 16, nmax 32): tries 19 scales
 * around -nmax/max and keeps the one with the best weighted fit; levels L = l + nmax in [0, 2 nmax).
 */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]!);
    if (ax > amax) { amax = ax; max = x[xo + i]!; }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  let iscale = f(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    let l = nearestInt(f(iscale * xi));
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[lo + i] = l + nmax;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  let scale = suml2 !== 0 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(f(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      let l = nearestInt(f(iscale * xi));
      l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
      const w = f(xi * xi);
      sumlx = f(sumlx + f(f(w * xi) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      for (let i = 0; i < n; i++) {
        const l = nearestInt(f(iscale * x[xo + i]!));
        L[lo + i] = nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l);
      }
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

/**
 * make_q3_quants with do_rmse (Q3_K: n 16, nmax 4): starts from -nmax/max, then moves single levels
 * while that improves the x^2-weighted fit; levels L = l + nmax in [0, 2 nmax). `Ls` is scratch.
 */
export function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number, Ls: Int32Array): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]!);
    if (ax > amax) { amax = ax; max = x[xo + i]!; }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const iscale = f(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    let l = nearestInt(f(iscale * xi));
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    Ls[i] = l;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const li = Ls[i]!;
      const w = f(xi * xi);
      let slx = f(sumlx - f(f(w * xi) * li));
      if (slx > 0) {
        let sl2 = f(suml2 - f(f(w * li) * li));
        let nl = nearestInt(f(f(xi * sl2) / slx));
        nl = nl < -nmax ? -nmax : nl > nmax - 1 ? nmax - 1 : nl;
        if (nl !== li) {
          slx = f(slx + f(f(w * xi) * nl));
          sl2 = f(sl2 + f(f(w * nl) * nl));
          if (sl2 > 0 && f(f(slx * slx) * suml2) > f(f(sumlx * sumlx) * sl2)) {
            Ls[i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (changed === 0) break;
  }
  for (let i = 0; i < n; i++) L[lo + i] = Ls[i]! + nmax;
  return suml2 > 0 ? f(sumlx / suml2) : 0;
}

/** Scratch for makeQkx2Quants; 32 is the largest sub-block (Q4_K, Q5_K). */
const laux = new Uint8Array(32);
const xm = new Float32Array(32);

/**
 * make_qkx2_quants (Q2_K: n 16, nmax 3, |x| weights, absolute error; Q4_K/Q5_K: n 32, nmax 15/31,
 * squared error): fits scale and min over nstep+1 trial scales, levels L in [0, nmax]. Returns the
 * scale and writes -min to mins[mi]. As in ggml, a better fit's min feeds the later trials.
 */
export function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xo: number, weights: Float32Array, L: Uint8Array, lo: number,
  mins: Float32Array, mi: number, rmin: number, rdelta: number, nstep: number, useMad: boolean,
): number {
  let min = x[xo]!;
  let max = min;
  let sumW = weights[0]!;
  let sumX = f(sumW * min);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i]!;
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i]!;
    sumW = f(sumW + w);
    sumX = f(sumX + f(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    mins[mi] = -min;
    return 0;
  }
  let range = f(max - min);
  let iscale = f(nmax / range);
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const d = f(xi - min);
    xm[i] = d;
    let l = nearestInt(f(iscale * d));
    l = l < 0 ? 0 : l > nmax ? nmax : l;
    L[lo + i] = l;
    let diff = f(f(f(scale * l) + min) - xi);
    diff = useMad ? Math.abs(diff) : f(diff * diff);
    bestError = f(bestError + f(weights[i]! * diff));
  }
  if (nstep < 1) {
    mins[mi] = -min;
    return scale;
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / range);
    let same = is > 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(f(iscale * xm[i]!));
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      if (laux[i] !== l) { laux[i] = l; same = false; }
    }
    // The fit and its error depend on nothing but the levels (not on min), so a trial with the
    // previous trial's levels ends as that one did: it either lost or set bestError to this very
    // error, which does not beat itself.
    if (same) continue;
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = laux[i]!;
      const wl = f(weights[i]! * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[xo + i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      // Every term is >= 0 and a rounded sum of non-negative floats never decreases, so once the
      // partial error reaches the best the trial has lost, exactly as the full sum would say.
      let curError = 0;
      let i = 0;
      for (; i < n && !(curError >= bestError); i++) {
        let diff = f(f(f(thisScale * laux[i]!) + thisMin) - x[xo + i]!);
        diff = useMad ? Math.abs(diff) : f(diff * diff);
        curError = f(curError + f(weights[i]! * diff));
      }
      if (i === n && curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = laux[i]!;
        bestError = curError;
        scale = thisScale;
        if (thisMin !== min) {
          range = f(max - thisMin);
          for (let i = 0; i < n; i++) xm[i] = x[xo + i]! - thisMin;
        }
        min = thisMin;
      }
    }
  }
  mins[mi] = -min;
  return scale;
}
