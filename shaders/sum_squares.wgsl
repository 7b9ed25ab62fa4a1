// out[index] = sum of x[i]^2 over i < n, in one workgroup with a fixed summation order (thread l sums
// l, l + WG, l + 2 WG, ... in turn; then a fixed tree), so the result repeats bit for bit.
// Dimension key: n = elements of one gradient tensor.   x: [n] f32   out: [count] f32 (one slot per tensor)
struct Params { n: u32, index: u32, _p0: u32, _p1: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u; // workgroup_sum.wgsl reduces over it

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) l: u32) {
  var s = 0.0;
  for (var i = l; i < P.n; i += WG) {
    let v = x[i];
    s += v * v;
  }
  let total = workgroup_sum(l, s);
  if (l == 0u) { out[P.index] = total; }
}
