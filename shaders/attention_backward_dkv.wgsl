// FlashAttention-2 backward, step 3: dK and dV, one invocation per (sequence b, key slot s, kv head),
// looping over the queries that see slot s and the nH/nKV query heads sharing the kv head. Each
// output has one writer, so no atomics, and the summation order is fixed (t, then head).
//   p = exp(q.k * scale - lse)   dV[s] = sum p * dO   ds = p * (dO.v - Di)   dK[s] = scale * sum ds * q
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence,
// nH = query heads, nKV = key/value heads, D = head dim (HEAD_DIM, a compile-time const), R = B*T.
// q, dO: [R, nH, D] f32   k, v, dK, dV: [B, S, nKV, D] f32   lse, Di: [R, nH] f32
// Query (b, t) in slot p0 + t sees slot s when seg[b, t] <= s <= p0 + t and, with a window W, p0 + t < s + W.
// Slots no query sees (past p0 + T - 1, or left behind by the window) get dK = dV = 0.
// Params, P, q, k, v and first_key come from attention_common.wgsl.
@group(0) @binding(4) var<storage, read> dO: array<f32>;
@group(0) @binding(5) var<storage, read> stats: array<vec2<f32>>; // [R, nH] (lse, Di)
@group(0) @binding(6) var<storage, read> seg: array<u32>; // [R] start slot of each row's document
@group(0) @binding(7) var<storage, read_write> dK: array<f32>;
@group(0) @binding(8) var<storage, read_write> dV: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let B = P.R / P.T;
  let idx = g.x + g.y * nwg.x * 64u; // (b * S + s) * nKV + kvh
  if (idx >= B * P.S * P.nKV) { return; }
  let kvh = idx % P.nKV;
  let bs = idx / P.nKV;
  let s = bs % P.S;
  let b = bs / P.S;
  let group = P.nH / P.nKV;

  // Query rows t in [t0, t1) see this slot.
  var t0 = 0u;
  if (s > P.p0) { t0 = s - P.p0; }
  var t1 = P.T;
  if (P.window > 0u) { t1 = min(P.T, select(0u, s + P.window - P.p0, s + P.window > P.p0)); }

  var kv: array<f32, HEAD_DIM>;
  var vv: array<f32, HEAD_DIM>;
  var dk: array<f32, HEAD_DIM>;
  var dv: array<f32, HEAD_DIM>;
  let kbase = idx * HEAD_DIM;
  for (var d = 0u; d < HEAD_DIM; d++) {
    dk[d] = 0.0;
    dv[d] = 0.0;
  }
  if (t0 < t1) {
    for (var d = 0u; d < HEAD_DIM; d++) {
      kv[d] = k[kbase + d];
      vv[d] = v[kbase + d];
    }
  }
  for (var t = t0; t < t1; t++) {
    let r = b * P.T + t;
    // Packed rows: documents are contiguous, so once a query's document starts after s, so do all later ones.
    if (seg[r] > s) { break; }
    for (var hh = 0u; hh < group; hh++) {
      let qi = r * P.nH + kvh * group + hh;
      let qbase = qi * HEAD_DIM;
      var score = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < HEAD_DIM; d++) {
        score += (q[qbase + d] * P.scale) * kv[d]; // as the forward forms its scores
        dp += dO[qbase + d] * vv[d];
      }
      let st = stats[qi];
      let p = exp(score - st.x);
      let ds = p * (dp - st.y);
      for (var d = 0u; d < HEAD_DIM; d++) {
        dv[d] += p * dO[qbase + d];
        dk[d] += ds * q[qbase + d];
      }
    }
  }
  for (var d = 0u; d < HEAD_DIM; d++) {
    dK[kbase + d] = dk[d] * P.scale;
    dV[kbase + d] = dv[d];
  }
}
