// FlashAttention-2 backward, step 2: dQ, one invocation per (query row, head), looping over its keys
// as the forward did (no [T, T] matrix):
//   p = exp(q.k * scale - lse)   dp = dO.v   ds = p * (dp - Di)   dQ = scale * sum_s ds * k[s]
// Dimension key: B = sequences, T = query rows per sequence, S = key slots per sequence,
// nH = query heads, nKV = key/value heads, D = head dim (HEAD_DIM, a compile-time const), R = B*T.
// q, dO, dQ: [R, nH, D] f32   k, v: [B, S, nKV, D] f32   stats: [R, nH] vec2 (lse, Di)   seg: [R] u32
// Query row (b, t) sits in slot p0 + t and sees keys s in [lo, p0 + t], lo = its document's start
// slot (seg) raised by the sliding window, as in the forward.
// Params, P, q, k, v and first_key come from attention_common.wgsl.
@group(0) @binding(4) var<storage, read> dO: array<f32>;
@group(0) @binding(5) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read> seg: array<u32>;
@group(0) @binding(7) var<storage, read_write> dQ: array<f32>;

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
  var gv: array<f32, HEAD_DIM>;
  var acc: array<f32, HEAD_DIM>;
  let qbase = idx * HEAD_DIM;
  for (var d = 0u; d < HEAD_DIM; d++) {
    qv[d] = q[qbase + d] * P.scale; // as the forward forms its scores
    gv[d] = dO[qbase + d];
    acc[d] = 0.0;
  }
  let l = stats[idx].x;
  let di = stats[idx].y;
  for (var s = lo; s <= pos; s++) {
    let kbase = ((b * P.S + s) * P.nKV + kvh) * HEAD_DIM;
    var score = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < HEAD_DIM; d++) {
      score += qv[d] * k[kbase + d];
      dp += gv[d] * v[kbase + d];
    }
    let ds = exp(score - l) * (dp - di);
    for (var d = 0u; d < HEAD_DIM; d++) { acc[d] += ds * k[kbase + d]; }
  }
  for (var d = 0u; d < HEAD_DIM; d++) { dQ[qbase + d] = acc[d] * P.scale; }
}
