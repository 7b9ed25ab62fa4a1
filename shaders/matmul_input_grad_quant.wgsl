// dX = (accumulate ? dX : 0) + alpha * dY[:, n0 : n0+N] @ W      (input gradient of Y = X @ W^T)
// for W in one of ggml's block formats: matmul_input_grad8.wgsl with the weights read through
// wq_load8 (weights_quant.wgsl) at a block and in-block group that the invocation's columns
// fix, so everything but the row's block address stays out of the loop over n.
// Dimension key: M = rows (tokens), N = rows of W in this chunk (out_features), K = in_features.
// dY: [M, ldy] f32 (this chunk's columns are n0 .. n0+N, via dy4 / dy1)   W: [N, K] quantized,
// K % (4 WQ_G4) == 0   dX: [M, K] f32
// Each invocation owns ROWS rows x 8 consecutive columns of dX. Per 4 values of n it loads 8 weights
// from each of 4 rows of W (neighbouring invocations read neighbouring weights) and ROWS vec4 of dY,
// for 32 * ROWS multiply-adds: on software rasterizers, which pay per load and lane, that ratio is
// what counts. ROWS and the workgroup shape WG_X x WG_Y are the device's tuning (src/gpu/tuning.ts).
struct Params {
  M: u32, N: u32, K: u32, ldy: u32,
  n0: u32, alpha: f32, accumulate: u32, _pad: u32,
};
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(3) var<storage, read_write> DX: array<vec4<f32>>;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let K8 = P.K / 8u;
  let k8 = g.x;
  let m0 = g.y * ROWS;
  if (k8 >= K8 || m0 >= P.M) { return; }
  // First dY element of each row; edge rows are clamped so loads stay in bounds, and dropped at the store.
  var r: array<u32, ROWS>;
  for (var i = 0u; i < ROWS; i++) { r[i] = min(m0 + i, P.M - 1u) * P.ldy + P.n0; }
  // Columns 8 k8 .. 8 k8 + 7 are groups o, o + 1 of block kb of every W row (bpr blocks per row).
  let bpr = P.K / (4u * WQ_G4);
  let kb = k8 / (WQ_G4 / 2u);
  let o = 2u * (k8 % (WQ_G4 / 2u));
  var lo: array<vec4<f32>, ROWS>; // columns 8 k8 .. 8 k8 + 3
  var hi: array<vec4<f32>, ROWS>; // columns 8 k8 + 4 .. 8 k8 + 7
  let N4 = P.N & ~3u;
  var n = 0u;
  for (; n < N4; n += 4u) {
    let w0 = wq_load8(n * bpr + kb, o);
    let w1 = wq_load8((n + 1u) * bpr + kb, o);
    let w2 = wq_load8((n + 2u) * bpr + kb, o);
    let w3 = wq_load8((n + 3u) * bpr + kb, o);
    for (var i = 0u; i < ROWS; i++) {
      let d = dy4(r[i] + n);
      lo[i] += d.x * w0[0] + d.y * w1[0] + d.z * w2[0] + d.w * w3[0];
      hi[i] += d.x * w0[1] + d.y * w1[1] + d.z * w2[1] + d.w * w3[1];
    }
  }
  for (; n < P.N; n++) {
    let w = wq_load8(n * bpr + kb, o);
    for (var i = 0u; i < ROWS; i++) {
      let d = dy1(r[i] + n);
      lo[i] += d * w[0];
      hi[i] += d * w[1];
    }
  }
  for (var i = 0u; i < ROWS; i++) {
    let m = m0 + i;
    if (m >= P.M) { break; }
    let at = (m * K8 + k8) * 2u;
    var a = P.alpha * lo[i];
    var b = P.alpha * hi[i];
    if (P.accumulate != 0u) {
      a += DX[at];
      b += DX[at + 1u];
    }
    DX[at] = a;
    DX[at + 1u] = b;
  }
}
