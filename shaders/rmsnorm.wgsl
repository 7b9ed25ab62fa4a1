// y[r, :] (+)= x[r, :] * rsqrt(mean(x[r, :]^2) + eps) * w      (as transformers: in f32)
// accumulate = 1 adds onto y: a residual stream taking a normed branch (Gemma 3's post-norms).
// Dimension key: R = rows (tokens, or tokens*heads for q/k norms), C = row width.
// x: [R, C] f32   w: [C] f32   y: [R, C] f32
struct Params { R: u32, C: u32, eps: f32, accumulate: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const WG: u32 = 64u; // workgroup_sum.wgsl reduces over it

// One workgroup per row: a row is a few hundred to a few thousand values.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) l: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= P.R) { return; }
  let base = r * P.C;
  var s = 0.0;
  for (var c = l; c < P.C; c += WG) {
    let v = x[base + c];
    s += v * v;
  }
  let inv = inverseSqrt(workgroup_sum(l, s) / f32(P.C) + P.eps);
  for (var c = l; c < P.C; c += WG) {
    var v = x[base + c] * inv * w[c];
    if (P.accumulate != 0u) { v += y[base + c]; }
    y[base + c] = v;
  }
}
