// Y[:, col0 : col0+N] = (accumulate ? Y : 0) + alpha * (X @ W^T) + bias + lora_scale * (U @ LB^T)
// for W in one of ggml's block formats: matmul.wgsl with the K loop split at the format's sub-blocks,
// so each W row's scale (and min) is decoded once per sub-block (wq_scale) instead of once per 4
// weights; wq_apply dequantizes 4 weights with it exactly as load_w4 would.
// Dimension key: M = rows of X (tokens), K = inner (in_features), N = rows of W (out_features),
// r4 = LoRA rank padded to 4.
// X: [M, K] f32   W: [N, K] quantized (via wq_scale / wq_apply, weights_q*.wgsl; K % (4 WQ_G4) == 0)
// Y: [M, ldy] f32   bias: [N] f32   U: [M, r4] f32 = X A^T, LB: [lora_n0 + N, r4] f32 (matmul_lora*.wgsl)
// Each invocation computes a block of 4 rows x COLS columns of Y (COLS = 4 * COLS4), as matmul.wgsl.
struct Params {
  M: u32, N: u32, K: u32, ldy: u32,
  col0: u32, alpha: f32, accumulate: u32, has_bias: u32,
  lora_scale: f32, lora_r4: u32, lora_n0: u32, _pad: u32,
};
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let n0 = g.x * 4u * COLS4;
  let m0 = g.y * 4u;
  if (n0 >= P.N || m0 >= P.M) { return; }
  let K4 = P.K / 4u;
  // Clamp edge rows and columns so loads stay in bounds; their results are dropped at the store.
  let rows = vec4<u32>(m0, min(m0 + 1u, P.M - 1u), min(m0 + 2u, P.M - 1u), min(m0 + 3u, P.M - 1u));
  let xr = rows * K4;
  // Blocks per W row; rb[j]: the first block of the j-th W row of this block of Y.
  let bpr = K4 / WQ_G4;
  var cols: array<vec4<u32>, COLS4>;
  var rb: array<u32, 4u * COLS4>;
  for (var c = 0u; c < COLS4; c++) {
    let n = n0 + 4u * c;
    cols[c] = vec4<u32>(min(n, P.N - 1u), min(n + 1u, P.N - 1u), min(n + 2u, P.N - 1u), min(n + 3u, P.N - 1u));
    let r = cols[c] * bpr;
    rb[4u * c] = r.x;
    rb[4u * c + 1u] = r.y;
    rb[4u * c + 2u] = r.z;
    rb[4u * c + 3u] = r.w;
  }
  // acc[4 c + i]: row m0 + i, columns n0 + 4 c .. n0 + 4 c + 3
  var acc: array<vec4<f32>, 4u * COLS4>;
  // k0: first group of 4 of a sub-block, group o0 of block kb of every W row.
  for (var k0 = 0u; k0 < K4; k0 += WQ_SUB4) {
    let kb = k0 / WQ_G4;
    let o0 = k0 % WQ_G4;
    var s: array<vec2<f32>, 4u * COLS4>;
    for (var j = 0u; j < 4u * COLS4; j++) { s[j] = wq_scale(rb[j] + kb, o0); }
    for (var d = 0u; d < WQ_SUB4; d++) {
      var w: array<vec4<f32>, 4u * COLS4>;
      for (var j = 0u; j < 4u * COLS4; j++) { w[j] = wq_apply(rb[j] + kb, o0 + d, s[j]); }
      for (var i = 0u; i < 4u; i++) {
        let x = X[xr[i] + k0 + d];
        for (var c = 0u; c < COLS4; c++) {
          acc[4u * c + i] += vec4<f32>(dot(x, w[4u * c]), dot(x, w[4u * c + 1u]), dot(x, w[4u * c + 2u]), dot(x, w[4u * c + 3u]));
        }
      }
    }
  }
  for (var c = 0u; c < COLS4; c++) {
    let lora = lora_block(rows, cols[c]);
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + i;
      if (m >= P.M) { break; }
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + 4u * c + j;
        if (n >= P.N) { break; }
        let at = m * P.ldy + P.col0 + n;
        var v = P.alpha * acc[4u * c + i][j] + lora[i][j];
        if (P.has_bias != 0u) { v += bias[n]; }
        if (P.accumulate != 0u) { v += Y[at]; }
        Y[at] = v;
      }
    }
  }
}
