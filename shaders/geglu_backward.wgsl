// Gradient of out = gelu_tanh(gate) * up, gelu_tanh(x) = x * sigmoid(2u), u = c (x + k x^3):
//   dgate = dout * up * (sig + 2 x sig (1 - sig) c (1 + 3 k x^2)),  sig = sigmoid(2u)   (= dout * up * gelu_tanh'(gate))
//   dup   = dout * x * sig
// sig and sig (1 - sig) come from e = exp(-|2u|) <= 1, and the second term is skipped where
// sig (1 - sig) is 0 (large |x|, where x^3 may be inf): finite for any finite gate.
// Dimension key: N = tokens * intermediate.   gate, up, dout, dgate, dup: [N] f32
struct Params { N: u32, _a: u32, _b: u32, _c: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;

const GELU_C: f32 = 0.7978845608028654; // sqrt(2 / pi)
const GELU_K: f32 = 0.044715;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= P.N) { return; }
  let x = gate[i];
  let u2 = 2.0 * GELU_C * (x + GELU_K * x * x * x);
  let e = exp(-abs(u2));
  let big = 1.0 / (1.0 + e); // sigmoid(|2u|)
  let sig = select(e * big, big, u2 >= 0.0);
  let sig1m = e * big * big; // sig * (1 - sig), the same for +-2u
  var slope = sig;
  if (sig1m > 0.0) { slope += 2.0 * x * sig1m * GELU_C * (1.0 + 3.0 * GELU_K * x * x); }
  let d = dout[i];
  dgate[i] = d * up[i] * slope;
  dup[i] = d * x * sig;
}
