// dW = (accumulate ? dW : 0) + alpha * dY^T @ X      (weight gradient of Y = X @ W^T; all f32)
// Dimension key: M = rows (tokens), N = rows of dW (out_features), K = columns of dW (in_features).
// dY: [M, ldy] f32 (first N columns used)   X: [M, ldx] f32 (first K columns used)   dW: [N, K] f32
// N, K, ldy, ldx are multiples of 4. Each invocation computes one 4x4 block of dW (rows n0..n0+3,
// columns k..k+3), summing over all M in order: deterministic, no atomics. Invocations are laid out
// 1-D over (N/4) x (K/4) blocks so that thin LoRA shapes ([r, K] or [N, r]) fill whole workgroups.
struct Params {
  M: u32, N: u32, K: u32, ldy: u32,
  ldx: u32, alpha: f32, accumulate: u32, _pad: u32,
};
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> DY: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> DW: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let K4 = P.K / 4u;
  let N4 = P.N / 4u;
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= N4 * K4) { return; }
  let n4 = i / K4;
  let k4 = i % K4;
  let ldy4 = P.ldy / 4u;
  let ldx4 = P.ldx / 4u;
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var m = 0u; m < P.M; m++) {
    let d = DY[m * ldy4 + n4];
    let x = X[m * ldx4 + k4];
    a0 += d.x * x;
    a1 += d.y * x;
    a2 += d.z * x;
    a3 += d.w * x;
  }
  let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
  for (var j = 0u; j < 4u; j++) {
    let at = (n4 * 4u + j) * K4 + k4;
    var v = P.alpha * acc[j];
    if (P.accumulate != 0u) { v += DW[at]; }
    DW[at] = v;
  }
}
