// out = silu(gate) * up, silu(x) = x / (1 + exp(-x)).
// Dimension key: N = tokens * intermediate.   gate, up, out: [N] f32
struct Params { N: u32, _a: u32, _b: u32, _c: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= P.N) { return; }
  let x = gate[i];
  out[i] = x / (1.0 + exp(-x)) * up[i];
}
