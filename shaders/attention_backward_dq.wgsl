// FlashAttention-2 backward, step 2: dQ, looping over each query's keys as the forward did (no
// [T, T] matrix):
//   p = exp(c - lse)   dp = dO.v   ds = p * (dp - Di) * c'   dQ = scale * sum_s ds * k[s]
// with c = q.k * scale and c' = 1, or with a softcap c = cap * tanh(q.k * scale / cap), c' = 1 - tanh^2.
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence,
// nH = query heads, nKV = key/value heads, D = head dim (HEAD_DIM, a compile-time const), R = B*T.
// q, dO, dQ: [R, nH, D] f32   k, v: [B, S, nKV, D] f32   stats: [R, nH] vec2 (lse, Di)   seg: [R] u32
// Query row (b, t) sits in slot p0 + t and sees keys s in [lo, p0 + t], lo = its document's start
// slot (seg) raised by the sliding window, as in the forward.
// Workgroup (x, y, z) = (row tile, head h, sequence b); each invocation owns ROWS consecutive query
// rows and reads each key and value once for all of them (see attention_common.wgsl).
// Params, P, q, k, v, D4, q_row, k_row, v_row, first_key, dot4 and cap_score come from attention_common.wgsl;
// dO, stats, seg and dO_row from attention_backward_common.wgsl.
@group(0) @binding(7) var<storage, read_write> dQ: array<vec4<f32>>;

@compute @workgroup_size(TILE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let h = wg.y;
  let b = wg.z;
  let kvh = h / (P.nH / P.nKV);
  let t0 = (wg.x * TILE + lid.x) * ROWS;
  var pos: array<u32, ROWS>;
  var lo: array<u32, ROWS>;
  var qi: array<u32, ROWS>;
  var st: array<vec2<f32>, ROWS>;
  for (var i = 0u; i < ROWS; i++) {
    let t = min(t0 + i, P.T - 1u); // rows past T repeat the last one and store nothing
    pos[i] = P.p0 + t;
    lo[i] = first_key(pos[i], seg[b * P.T + t]);
    qi[i] = (b * P.T + t) * P.nH + h;
    st[i] = stats[qi[i]];
  }
  var qv: array<array<vec4<f32>, D4>, ROWS>;
  var gv: array<array<vec4<f32>, D4>, ROWS>;
  var acc: array<array<vec4<f32>, D4>, ROWS>;
  for (var i = 0u; i < ROWS; i++) {
    let qr = q_row(qi[i] * D4);
    let gr = dO_row(qi[i] * D4);
    for (var d = 0u; d < D4; d++) {
      qv[i][d] = qr[d] * P.scale; // as the forward forms its scores
      gv[i][d] = gr[d];
      acc[i][d] = vec4<f32>(0.0);
    }
  }
  let stride = P.nKV * D4;
  var kb = ((b * P.S + lo[0]) * P.nKV + kvh) * D4;
  for (var s = lo[0]; s <= pos[ROWS - 1u]; s++) {
    let kk = k_row(kb);
    let vv = v_row(kb);
    for (var i = 0u; i < ROWS; i++) {
      var sc = vec4<f32>(0.0);
      var dp = vec4<f32>(0.0);
      for (var d = 0u; d < D4; d++) {
        sc += qv[i][d] * kk[d];
        dp += gv[i][d] * vv[d];
      }
      let ok = s >= lo[i] && s <= pos[i];
      let c = cap_score(dot4(sc));
      let ds = select(0.0, exp(c.x - st[i].x) * (dot4(dp) - st[i].y) * c.y, ok);
      for (var d = 0u; d < D4; d++) { acc[i][d] += ds * kk[d]; }
    }
    kb += stride;
  }
  for (var i = 0u; i < ROWS; i++) {
    if (t0 + i < P.T) {
      var row: array<vec4<f32>, D4>;
      for (var d = 0u; d < D4; d++) { row[d] = acc[i][d] * P.scale; }
      for (var d = 0u; d < P.d4; d++) { dQ[qi[i] * D4 + d] = row[d]; }
    }
  }
}
