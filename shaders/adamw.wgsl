// One AdamW step, as torch.optim.AdamW (decoupled weight decay, bias-corrected moments):
//   g = grad * scale / gradDivisor
//   param *= 1 - lr * weightDecay
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   param -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),   bc1 = 1 - beta1^step, bc2 = 1 - beta2^step
// The bias corrections and 1 - beta are computed on the CPU in float64 and passed in, as torch does
// (1 - f32(0.999) is 1.3e-5 off 0.001 in relative terms). `scale` is the gradient-norm
// clip factor that clip_scale.wgsl wrote, read on the GPU so the step never waits for a readback.
// A non-finite norm (gradScale[0]) skips the update entirely.
// Dimension key: n = elements of the parameter tensor.
// param, grad, m, v: [n] f32   gradScale: [2] f32 (norm, scale)
struct Params {
  n: u32, lr: f32, beta1: f32, beta2: f32,
  eps: f32, decay: f32, stepSize: f32, bc2Sqrt: f32,
  invDivisor: f32, omb1: f32, omb2: f32, _p0: u32,
};
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> gradScale: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  // A step whose global gradient norm is inf or NaN changes nothing, so the last good weights
  // survive a diverging loss (the trainer stops and says at which step).
  let normBits = bitcast<u32>(gradScale[0]);
  if (i >= P.n || (normBits & 0x7f800000u) == 0x7f800000u) { return; }
  let g = grad[i] * gradScale[1] * P.invDivisor;
  let mi = P.beta1 * m[i] + P.omb1 * g;
  let vi = P.beta2 * v[i] + P.omb2 * g * g;
  m[i] = mi;
  v[i] = vi;
  let p = param[i] * P.decay;
  param[i] = p - P.stepSize * mi / (sqrt(vi) / P.bc2Sqrt + P.eps);
}
