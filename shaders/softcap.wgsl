// Soft-capping in place: x = cap * tanh(x / cap)   (Gemma's final_logit_softcapping on logits).
// Dimension key: N = values.   x: [N] f32
// tanh_safe comes from tanh.wgsl.
struct Params { N: u32, cap: f32, _b: u32, _c: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= P.N) { return; }
  x[i] = P.cap * tanh_safe(x[i] / P.cap);
}
