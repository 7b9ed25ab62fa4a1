// What the dQ and dK/dV kernels share beyond attention_common.wgsl: the output gradient, the
// forward's statistics with Di, and each row's document start, at bindings 4-6.
// Dimension key: R = B*T query rows, nH = query heads, D4 = HEAD_DIM / 4.
// dO: [R, nH, HEAD_DIM] f32   stats: [R, nH] vec2 (lse, Di)   seg: [R] u32
@group(0) @binding(4) var<storage, read> dO: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read> seg: array<u32>; // start slot of each row's document

// One head row of dO, read as q_row reads q (see attention_common.wgsl).
fn dO_row(at: u32) -> array<vec4<f32>, D4> {
  var row: array<vec4<f32>, D4>;
  for (var d = 0u; d < P.d4; d++) { row[d] = dO[at + d]; }
  return row;
}
