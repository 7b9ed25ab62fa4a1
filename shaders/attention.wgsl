// Causal attention with GQA, flash-style: one pass over the keys with an online softmax,
// so no [T, T] score matrix ever exists in memory.
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence (cache
// capacity), nH = query heads, nKV = key/value heads, D = head dim (HEAD_DIM, a compile-time const).
// q: [B*T, nH, D]   k, v: [B, S, nKV, D]   o: [B*T, nH, D]   lse: [B*T, nH] (log-sum-exp, for backward)
// Query row (b, t) sits in slot p0 + t and sees keys s in [lo, p0 + t]: lo is the start of its own
// document (seg, for packed rows; 0 otherwise), raised by the sliding window.
// seg: [B*T] u32, the slot where each row's document starts
// Workgroup (x, y, z) = (row tile, head h, sequence b); each invocation owns ROWS consecutive query
// rows and walks the keys its rows see once, from its first row's first key to its last row's slot
// (documents and windows only move forward), masking per row.
// Params, P, q, k, v, D4, first_key, dot4 and cap_score come from attention_common.wgsl.
@group(0) @binding(4) var<storage, read_write> o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read> seg: array<u32>;

@compute @workgroup_size(TILE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let h = wg.y;
  let b = wg.z;
  let kvh = h / (P.nH / P.nKV);
  let t0 = (wg.x * TILE + lid.x) * ROWS;
  var pos: array<u32, ROWS>;
  var lo: array<u32, ROWS>;
  var qi: array<u32, ROWS>;
  for (var i = 0u; i < ROWS; i++) {
    let t = min(t0 + i, P.T - 1u); // rows past T repeat the last one and store nothing
    pos[i] = P.p0 + t;
    lo[i] = first_key(pos[i], seg[b * P.T + t]);
    qi[i] = (b * P.T + t) * P.nH + h;
  }
  var qv: array<array<vec4<f32>, D4>, ROWS>;
  var acc: array<array<vec4<f32>, D4>, ROWS>;
  var m: array<f32, ROWS>;
  var l: array<f32, ROWS>;
  for (var i = 0u; i < ROWS; i++) {
    let row = q_row(qi[i] * D4);
    for (var d = 0u; d < D4; d++) {
      qv[i][d] = row[d] * P.scale;
      acc[i][d] = vec4<f32>(0.0);
    }
    m[i] = -3.0e38;
    l[i] = 0.0;
  }
  let stride = P.nKV * D4;
  var kb = ((b * P.S + lo[0]) * P.nKV + kvh) * D4;
  for (var s = lo[0]; s <= pos[ROWS - 1u]; s++) {
    let kk = k_row(kb);
    var p: array<f32, ROWS>;
    var corr: array<f32, ROWS>;
    for (var i = 0u; i < ROWS; i++) {
      var sc = vec4<f32>(0.0);
      for (var d = 0u; d < D4; d++) { sc += qv[i][d] * kk[d]; }
      let score = cap_score(dot4(sc)).x;
      let ok = s >= lo[i] && s <= pos[i];
      let mNew = select(m[i], max(m[i], score), ok);
      corr[i] = exp(m[i] - mNew);
      p[i] = select(0.0, exp(score - mNew), ok);
      l[i] = l[i] * corr[i] + p[i];
      m[i] = mNew;
    }
    let vv = v_row(kb);
    for (var d = 0u; d < D4; d++) {
      for (var i = 0u; i < ROWS; i++) { acc[i][d] = acc[i][d] * corr[i] + p[i] * vv[d]; }
    }
    kb += stride;
  }
  for (var i = 0u; i < ROWS; i++) {
    if (t0 + i < P.T) {
      let inv = 1.0 / l[i];
      var row: array<vec4<f32>, D4>;
      for (var d = 0u; d < D4; d++) { row[d] = acc[i][d] * inv; }
      for (var d = 0u; d < P.d4; d++) { o[qi[i] * D4 + d] = row[d]; }
      lse[qi[i]] = m[i] + log(l[i]);
    }
  }
}
