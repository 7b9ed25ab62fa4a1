// Gradient through the rotary embedding, in place: the forward rotates each pair (x[i], x[i + D/2])
// by +angle, so its transpose rotates dL/d(rotated) by -angle:
//   dx[.., i]       = dy[i] * cos + dy[i + D/2] * sin
//   dx[.., i + D/2] = dy[i + D/2] * cos - dy[i] * sin          for i < D/2
// Dimension key: R = rows (tokens of B sequences of T), nh = heads in the buffer, D = head dim,
// P = positions in the table.
// x: [R, nh, D] f32 (holds dL/d(rotated) on entry, dL/d(input) on exit)   table: [P, D] f32 as rope.wgsl
// Row r sits at position p0 + r % T.
struct Params { R: u32, T: u32, p0: u32, nh: u32, D: u32, _a: u32, _b: u32, _c: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = P.D / 2u;
  let idx = g.x + g.y * nwg.x * 64u;
  if (idx >= P.R * P.nh * half) { return; }
  let i = idx % half;
  let rh = idx / half; // row * nh + head
  let r = rh / P.nh;
  let pos = P.p0 + r % P.T;
  let c = table[pos * P.D + i];
  let s = table[pos * P.D + half + i];
  let base = rh * P.D;
  let y1 = x[base + i];
  let y2 = x[base + half + i];
  x[base + i] = y1 * c + y2 * s;
  x[base + half + i] = y2 * c - y1 * s;
}
