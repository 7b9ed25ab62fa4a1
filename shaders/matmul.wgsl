// Y[:, col0 : col0+N] = (accumulate ? Y : 0) + alpha * (X @ W^T) + bias + lora_scale * (U @ LB^T)
// Dimension key: M = rows of X (tokens), K = inner (in_features), N = rows of W (out_features),
// r4 = LoRA rank padded to 4.
// X: [M, K] f32   W: [N, K] (f32/f16/bf16, via load_w4)   Y: [M, ldy] f32   bias: [N] f32
// U: [M, r4] f32 = X A^T, LB: [lora_n0 + N, r4] f32 (LoRA's B), via lora_block (matmul_lora*.wgsl)
// Each invocation computes a 4x4 block of Y from K-contiguous rows of X and W (vec4 loads, dot):
// on CPU-backed devices this beats workgroup-memory tiling; both X and W are read along K.
// The epilogue adds bias, LoRA's scaled B(Ax) and the residual (accumulate) in the same pass.
struct Params {
  M: u32, N: u32, K: u32, ldy: u32,
  col0: u32, alpha: f32, accumulate: u32, has_bias: u32,
  lora_scale: f32, lora_r4: u32, lora_n0: u32, _pad: u32,
};
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let n0 = g.x * 4u;
  let m0 = g.y * 4u;
  if (n0 >= P.N || m0 >= P.M) { return; }
  let K4 = P.K / 4u;
  // Clamp edge rows so loads stay in bounds; their results are dropped at the store.
  let rows = vec4<u32>(m0, min(m0 + 1u, P.M - 1u), min(m0 + 2u, P.M - 1u), min(m0 + 3u, P.M - 1u));
  let cols = vec4<u32>(n0, min(n0 + 1u, P.N - 1u), min(n0 + 2u, P.N - 1u), min(n0 + 3u, P.N - 1u));
  let xr = rows * K4;
  let wr = cols * K4;
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var k = 0u; k < K4; k++) {
    let w0 = load_w4(wr.x + k);
    let w1 = load_w4(wr.y + k);
    let w2 = load_w4(wr.z + k);
    let w3 = load_w4(wr.w + k);
    let x0 = X[xr.x + k];
    let x1 = X[xr.y + k];
    let x2 = X[xr.z + k];
    let x3 = X[xr.w + k];
    a0 += vec4<f32>(dot(x0, w0), dot(x0, w1), dot(x0, w2), dot(x0, w3));
    a1 += vec4<f32>(dot(x1, w0), dot(x1, w1), dot(x1, w2), dot(x1, w3));
    a2 += vec4<f32>(dot(x2, w0), dot(x2, w1), dot(x2, w2), dot(x2, w3));
    a3 += vec4<f32>(dot(x3, w0), dot(x3, w1), dot(x3, w2), dot(x3, w3));
  }
  let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
  let lora = lora_block(rows, cols);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= P.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= P.N) { break; }
      let at = m * P.ldy + P.col0 + n;
      var v = P.alpha * acc[i][j] + lora[i][j];
      if (P.has_bias != 0u) { v += bias[n]; }
      if (P.accumulate != 0u) { v += Y[at]; }
      Y[at] = v;
    }
  }
}
