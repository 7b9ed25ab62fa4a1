// dX = (accumulate ? dX : 0) + alpha * dY[:, n0 : n0+N] @ W      (input gradient of Y = X @ W^T)
// For K % 8 == 4; matmul_input_grad8.wgsl (8 columns per invocation) serves K % 8 == 0.
// Dimension key: M = rows (tokens), N = rows of W in this chunk (out_features), K = in_features.
// dY: [M, ldy] f32 (this chunk's columns are n0 .. n0+N)   W: [N, K] (via load_w4)   dX: [M, K] f32
// Each invocation computes a 4x4 block of dX (4 rows m, 4 columns k): for each n, 4 scalars of dY and
// one vec4 of W row n, outer-product accumulate. W rows are read contiguously along K, so the frozen
// [out, in] weight serves both products without a transposed copy. n is unrolled by 4.
// dY comes through dy4 / dy1 (matmul_dy_f32.wgsl, or matmul_dy_vec4.wgsl when rows are aligned).
struct Params {
  M: u32, N: u32, K: u32, ldy: u32,
  n0: u32, alpha: f32, accumulate: u32, _pad: u32,
};
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(3) var<storage, read_write> DX: array<vec4<f32>>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let K4 = P.K / 4u;
  let k4 = g.x;
  let m0 = g.y * 4u;
  if (k4 >= K4 || m0 >= P.M) { return; }
  // Clamp edge rows so loads stay in bounds; their results are dropped at the store.
  let r = vec4<u32>(m0, min(m0 + 1u, P.M - 1u), min(m0 + 2u, P.M - 1u), min(m0 + 3u, P.M - 1u)) * P.ldy + P.n0;
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  let N4 = P.N & ~3u;
  var n = 0u;
  for (; n < N4; n += 4u) {
    let w0 = load_w4(n * K4 + k4);
    let w1 = load_w4((n + 1u) * K4 + k4);
    let w2 = load_w4((n + 2u) * K4 + k4);
    let w3 = load_w4((n + 3u) * K4 + k4);
    let d0 = dy4(r.x + n);
    let d1 = dy4(r.y + n);
    let d2 = dy4(r.z + n);
    let d3 = dy4(r.w + n);
    a0 += d0.x * w0 + d0.y * w1 + d0.z * w2 + d0.w * w3;
    a1 += d1.x * w0 + d1.y * w1 + d1.z * w2 + d1.w * w3;
    a2 += d2.x * w0 + d2.y * w1 + d2.z * w2 + d2.w * w3;
    a3 += d3.x * w0 + d3.y * w1 + d3.z * w2 + d3.w * w3;
  }
  for (; n < P.N; n++) {
    let w = load_w4(n * K4 + k4);
    a0 += dy1(r.x + n) * w;
    a1 += dy1(r.y + n) * w;
    a2 += dy1(r.z + n) * w;
    a3 += dy1(r.w + n) * w;
  }
  let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= P.M) { break; }
    let at = m * K4 + k4;
    var v = P.alpha * acc[i];
    if (P.accumulate != 0u) { v += DX[at]; }
    DX[at] = v;
  }
}
