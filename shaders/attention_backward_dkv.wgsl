// FlashAttention-2 backward, step 3: dK and dV, looping over the queries that see each key slot and
// the nH/nKV query heads sharing its kv head. Each output has one writer, so no atomics, and the
// summation order is fixed (t, then head).
//   p = exp(c - lse)   dV[s] = sum p * dO   ds = p * (dO.v - Di) * c'   dK[s] = scale * sum ds * q
// with c = q.k * scale and c' = 1, or with a softcap c = cap * tanh(q.k * scale / cap), c' = 1 - tanh^2.
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence,
// nH = query heads, nKV = key/value heads, D = head dim (HEAD_DIM, a compile-time const), R = B*T.
// q, dO: [R, nH, D] f32   k, v, dK, dV: [B, S, nKV, D] f32   stats: [R, nH] vec2 (lse, Di)   seg: [R] u32
// Query (b, t) in slot p0 + t sees slot s when seg[b, t] <= s <= p0 + t and, with a window W, p0 + t < s + W.
// Slots no query sees (past p0 + T - 1, or left behind by the window) get dK = dV = 0.
// Workgroup (x, y, z) = (slot tile, kv head, sequence b); each invocation owns ROWS consecutive key
// slots and reads each query row and its output gradient once for all of them.
// Params, P, q, k, v, D4, q_row, k_row, v_row, first_key, dot4 and cap_score come from attention_common.wgsl;
// dO, stats, seg and dO_row from attention_backward_common.wgsl.
@group(0) @binding(7) var<storage, read_write> dK: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dV: array<vec4<f32>>;

@compute @workgroup_size(TILE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let kvh = wg.y;
  let b = wg.z;
  let group = P.nH / P.nKV;
  let s0 = (wg.x * TILE + lid.x) * ROWS;
  let sLast = s0 + ROWS - 1u;
  var kv: array<array<vec4<f32>, D4>, ROWS>;
  var vv: array<array<vec4<f32>, D4>, ROWS>;
  var dk: array<array<vec4<f32>, D4>, ROWS>;
  var dv: array<array<vec4<f32>, D4>, ROWS>;
  for (var j = 0u; j < ROWS; j++) {
    let kbase = ((b * P.S + min(s0 + j, P.S - 1u)) * P.nKV + kvh) * D4;
    let kr = k_row(kbase);
    let vr = v_row(kbase);
    for (var d = 0u; d < D4; d++) {
      kv[j][d] = kr[d];
      vv[j][d] = vr[d];
      dk[j][d] = vec4<f32>(0.0);
      dv[j][d] = vec4<f32>(0.0);
    }
  }
  // Query rows t in [t0, t1) may see one of this invocation's slots.
  var t0 = 0u;
  if (s0 > P.p0) { t0 = s0 - P.p0; }
  var t1 = P.T;
  if (P.window > 0u) { t1 = min(P.T, select(0u, sLast + P.window - P.p0, sLast + P.window > P.p0)); }
  for (var t = t0; t < t1; t++) {
    let r = b * P.T + t;
    let pos = P.p0 + t;
    let lo = first_key(pos, seg[r]);
    // Documents and windows only move forward: once a query starts after the last slot, so do all later ones.
    if (lo > sLast) { break; }
    for (var hh = 0u; hh < group; hh++) {
      let qi = r * P.nH + kvh * group + hh;
      let qq = q_row(qi * D4);
      let gg = dO_row(qi * D4);
      let st = stats[qi];
      for (var j = 0u; j < ROWS; j++) {
        let s = s0 + j;
        var sc = vec4<f32>(0.0);
        var dp = vec4<f32>(0.0);
        for (var d = 0u; d < D4; d++) {
          sc += (qq[d] * P.scale) * kv[j][d]; // as the forward forms its scores
          dp += gg[d] * vv[j][d];
        }
        let ok = s >= lo && s <= pos && s < P.S;
        let c = cap_score(dot4(sc));
        let p = select(0.0, exp(c.x - st.x), ok);
        let ds = select(0.0, p * (dot4(dp) - st.y) * c.y, ok);
        for (var d = 0u; d < D4; d++) {
          dv[j][d] += p * gg[d];
          dk[j][d] += ds * qq[d];
        }
      }
    }
  }
  for (var j = 0u; j < ROWS; j++) {
    let s = s0 + j;
    if (s < P.S) {
      let kbase = ((b * P.S + s) * P.nKV + kvh) * D4;
      var rk: array<vec4<f32>, D4>;
      var rv: array<vec4<f32>, D4>;
      for (var d = 0u; d < D4; d++) {
        rk[d] = dk[j][d] * P.scale;
        rv[d] = dv[j][d];
      }
      for (var d = 0u; d < P.d4; d++) {
        dK[kbase + d] = rk[d];
        dV[kbase + d] = rv[d];
      }
    }
  }
}
