// FlashAttention-2 backward, step 1: Di[r, h] = sum_d dO[r, h, d] * O[r, h, d]
// (equals sum_s P[s] * dP[s], the softmax's share in dS = P * (dP - Di)).
// Dimension key: R = B*T query rows, nH = query heads, D = head dim (HEAD_DIM, a compile-time const, a multiple of 4).
// o, dO: [R, nH, D] f32   lse: [R, nH] f32   stats: [R, nH] vec2 (lse, Di), one binding for the next two steps
struct Params { n: u32, _a: u32, _b: u32, _c: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> o: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dO: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<vec2<f32>>;

const D4: u32 = HEAD_DIM / 4u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = g.x + g.y * nwg.x * 64u; // r * nH + h
  if (idx >= P.n) { return; }
  let base = idx * D4;
  var s = vec4<f32>(0.0);
  for (var d = 0u; d < D4; d++) { s += dO[base + d] * o[base + d]; }
  stats[idx] = vec2<f32>(lse[idx], s.x + s.y + s.z + s.w);
}
