// Gradient of y = x * inv * w with respect to x, inv = rsqrt(mean(x^2) + eps):
//   dx[r, c] (+)= inv * w[c] * dy[r, c] - x[r, c] * inv^3 / C * sum_j(dy[r, j] * w[j] * x[r, j])
// Dimension key: R = rows (tokens, or tokens*heads for q/k norms), C = row width.
// x: [R, C] f32   w: [C] f32   dy: [R, C] f32   dx: [R, C] f32 (overwritten, or added to when accumulate = 1)
struct Params { R: u32, C: u32, eps: f32, accumulate: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

const WG: u32 = 64u; // workgroup_sum.wgsl reduces over it

// One workgroup per row, as the forward; both row sums reduced in a fixed tree (deterministic).
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) l: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= P.R) { return; }
  let base = r * P.C;
  var s = 0.0;
  var d = 0.0;
  for (var c = l; c < P.C; c += WG) {
    let v = x[base + c];
    s += v * v;
    d += dy[base + c] * w[c] * v;
  }
  let inv = inverseSqrt(workgroup_sum(l, s) / f32(P.C) + P.eps);
  let k = inv * inv * inv * workgroup_sum(l, d) / f32(P.C);
  for (var c = l; c < P.C; c += WG) {
    var g = inv * w[c] * dy[base + c] - x[base + c] * k;
    if (P.accumulate != 0u) { g += dx[base + c]; }
    dx[base + c] = g;
  }
}
