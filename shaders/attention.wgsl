// Causal attention with GQA, flash-style: one pass over the keys with an online softmax,
// so no [T, T] score matrix ever exists in memory.
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence (cache
// capacity), nH = query heads, nKV = key/value heads, D = head dim (HEAD_DIM, a compile-time const).
// q: [B*T, nH, D]   k, v: [B, S, nKV, D]   o: [B*T, nH, D]   lse: [B*T, nH] (log-sum-exp, for backward)
// Query row (b, t) sits in slot p0 + t and sees keys s in [lo, p0 + t]: lo is the start of its own
// document (seg, for packed rows; 0 otherwise), raised by the sliding window.
// seg: [B*T] u32, the slot where each row's document starts
// Params, P, q, k, v and first_key come from attention_common.wgsl.
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read> seg: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = g.x + g.y * nwg.x * 64u;
  if (idx >= P.R * P.nH) { return; }
  let r = idx / P.nH;
  let h = idx % P.nH;
  let b = r / P.T;
  let pos = P.p0 + r % P.T;
  let kvh = h / (P.nH / P.nKV);
  let lo = first_key(pos, seg[r]);

  var qv: array<f32, HEAD_DIM>;
  var acc: array<f32, HEAD_DIM>;
  let qbase = idx * HEAD_DIM;
  for (var d = 0u; d < HEAD_DIM; d++) {
    qv[d] = q[qbase + d] * P.scale;
    acc[d] = 0.0;
  }
  var m = -3.0e38;
  var l = 0.0;
  for (var s = lo; s <= pos; s++) {
    let kbase = ((b * P.S + s) * P.nKV + kvh) * HEAD_DIM;
    var score = 0.0;
    for (var d = 0u; d < HEAD_DIM; d++) { score += qv[d] * k[kbase + d]; }
    let mNew = max(m, score);
    let corr = exp(m - mNew);
    let p = exp(score - mNew);
    l = l * corr + p;
    for (var d = 0u; d < HEAD_DIM; d++) { acc[d] = acc[d] * corr + p * v[kbase + d]; }
    m = mNew;
  }
  let inv = 1.0 / l;
  for (var d = 0u; d < HEAD_DIM; d++) { o[qbase + d] = acc[d] * inv; }
  lse[idx] = m + log(l);
}
