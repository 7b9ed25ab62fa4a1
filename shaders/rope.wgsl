// Rotary position embedding in place, Hugging Face half-rotation:
//   x[.., i]       = x[i] * cos - x[i + D/2] * sin
//   x[.., i + D/2] = x[i + D/2] * cos + x[i] * sin          for i < D/2
// Dimension key: R = rows (tokens of B sequences of T), nh = heads in the buffer, D = head dim,
// P = positions in the table.
// x: [R, nh, D] f32   table: [P, D] f32 (cos in [:, :D/2], sin in [:, D/2:], frequencies already scaled)
// Row r sits at position p0 + r % T - seg[r] (packed rows restart positions at each document).
// The backward pass is the same rotation by the negative angle (SIN_SIGN = -1): the rotation is
// orthogonal, so its gradient is its inverse. The table is computed on the CPU in float64: WGSL's cos/sin
// are only accurate near [-pi, pi], and position * frequency leaves that range quickly.
struct Params { R: u32, T: u32, p0: u32, nh: u32, D: u32, _a: u32, _b: u32, _c: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read> seg: array<u32>; // [R]
override SIN_SIGN: f32 = 1.0;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = P.D / 2u;
  let idx = g.x + g.y * nwg.x * 64u;
  if (idx >= P.R * P.nh * half) { return; }
  let i = idx % half;
  let rh = idx / half; // row * nh + head
  let r = rh / P.nh;
  let pos = P.p0 + r % P.T - seg[r];
  let c = table[pos * P.D + i];
  let s = SIN_SIGN * table[pos * P.D + half + i];
  let base = rh * P.D;
  let x1 = x[base + i];
  let x2 = x[base + half + i];
  x[base + i] = x1 * c - x2 * s;
  x[base + half + i] = x2 * c + x1 * s;
}
