// Inverted dropout with a counter-based mask: element i is kept when hash(seed, i) >= p * 2^32, so
// the same seed gives the same mask in the forward pass, its recomputation and the backward pass.
//   out[i] = (accumulate ? out[i] : 0) + (keep(i) ? x[i] / (1 - p) : 0)
// Dimension key: N = elements.   x, out: [N] f32
struct Params { N: u32, seed: u32, threshold: u32, accumulate: u32, scale: f32, _a: u32, _b: u32, _c: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// PCG-style integer hash (Jarzynski & Olano, "Hash Functions for GPU Rendering").
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= P.N) { return; }
  var v = 0.0;
  if (pcg(pcg(i) ^ P.seed) >= P.threshold) { v = x[i] * P.scale; }
  if (P.accumulate != 0u) { v += out[i]; }
  out[i] = v;
}
