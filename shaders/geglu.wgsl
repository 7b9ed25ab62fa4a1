// out = gelu_tanh(gate) * up   (GeGLU, Gemma's gated MLP middle), with
// gelu_tanh(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)   (torch's gelu(approximate="tanh")),
// computed as x * sigmoid(2u) (the same function): x / (1 + exp(-2u)) stays exact where 1 + tanh(u)
// would cancel (large negative x) and is 0 or x, never NaN, when exp overflows.
// Dimension key: N = tokens * intermediate.   gate, up, out: [N] f32
struct Params { N: u32, _a: u32, _b: u32, _c: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const GELU_C: f32 = 0.7978845608028654; // sqrt(2 / pi)
const GELU_K: f32 = 0.044715;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= P.N) { return; }
  let x = gate[i];
  let u2 = 2.0 * GELU_C * (x + GELU_K * x * x * x);
  out[i] = x / (1.0 + exp(-u2)) * up[i];
}
