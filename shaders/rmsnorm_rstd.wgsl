// inv[r] = rsqrt(mean(x[r, :]^2) + eps), the per-row scale of the RMSNorm forward (for its weight gradient).
// Dimension key: R = rows, C = row width.
// x: [R, C] f32   inv: [R] f32
struct Params { R: u32, C: u32, eps: f32, _pad: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> inv: array<f32>;

const WG: u32 = 64u; // workgroup_sum.wgsl reduces over it

// One workgroup per row, the same summation order as rmsnorm.wgsl.
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
  let total = workgroup_sum(l, s);
  if (l == 0u) { inv[r] = inverseSqrt(total / f32(P.C) + P.eps); }
}
