// What the attention kernels share: their parameters, q/k/v at bindings 1-3, and which keys a
// query sees. Bindings from 4 on are each kernel's own.
// Dimension key: R = B*T query rows, T = rows per sequence, S = key slots per sequence,
// nH/nKV = query/key-value heads, HEAD_DIM = head dim (a compile-time const, a multiple of 4),
// D4 = HEAD_DIM / 4 (rows are read as vec4).
// q: [R, nH, HEAD_DIM]   k, v: [B, S, nKV, HEAD_DIM]
//
// Work layout, for every kernel: a workgroup is TILE invocations on consecutive rows of one head of
// one sequence (query rows, or key slots for dK/dV), each invocation owning ROWS consecutive rows.
// An invocation reads each streamed row of the other side (a key and its value, or a query and its
// output gradient) once for all of its ROWS rows: on devices where every load is costly (software
// Vulkan) that reuse is most of the speed; ROWS = 1 suits GPUs, whose registers are few.
// softcap: scores become softcap * tanh(score / softcap) when the compile-time SOFTCAP is 1 (Gemma).
struct Params { R: u32, T: u32, S: u32, p0: u32, nH: u32, nKV: u32, window: u32, scale: f32, d4: u32, softcap: f32 }; // d4 = D4
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;

const D4: u32 = HEAD_DIM / 4u;

/** The first key slot a query at slot `pos` sees: its document's start, raised by the sliding window. */
fn first_key(pos: u32, doc_start: u32) -> u32 {
  if (P.window > 0u && pos + 1u > P.window) { return max(doc_start, pos + 1u - P.window); }
  return doc_start;
}

// One head row of q, k or v, read by a loop the compiler keeps rolled (its bound, P.d4 = D4, is not
// a compile-time const) into an array the caller indexes with constants only. Software Vulkan pays
// per lane for every storage load: unrolled, the loads made these shaders compile for tens of
// seconds; the arithmetic on the rows is what is worth unrolling.
fn q_row(at: u32) -> array<vec4<f32>, D4> {
  var row: array<vec4<f32>, D4>;
  for (var d = 0u; d < P.d4; d++) { row[d] = q[at + d]; }
  return row;
}

fn k_row(at: u32) -> array<vec4<f32>, D4> {
  var row: array<vec4<f32>, D4>;
  for (var d = 0u; d < P.d4; d++) { row[d] = k[at + d]; }
  return row;
}

fn v_row(at: u32) -> array<vec4<f32>, D4> {
  var row: array<vec4<f32>, D4>;
  for (var d = 0u; d < P.d4; d++) { row[d] = v[at + d]; }
  return row;
}

fn dot4(a: vec4<f32>) -> f32 {
  return a.x + a.y + a.z + a.w;
}

/**
 * A score as the softmax sees it, and d(that) / d(score): vec2(score, 1) without a softcap, else
 * vec2(cap * tanh(score / cap), 1 - tanh^2). tanh_sech2 comes from tanh.wgsl.
 */
fn cap_score(score: f32) -> vec2<f32> {
  if (SOFTCAP == 0u) { return vec2<f32>(score, 1.0); }
  let ts = tanh_sech2(score / P.softcap);
  return vec2<f32>(P.softcap * ts.x, ts.y);
}
