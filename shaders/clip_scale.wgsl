// The global gradient norm and the clip factor of torch.nn.utils.clip_grad_norm_:
//   norm = sqrt(sum_i partials[i]);  scale = maxNorm > 0 ? min(1, maxNorm / (norm + 1e-6)) : 1
// Summed in one workgroup in a fixed order (as sum_squares.wgsl), so the result repeats bit for bit.
// Dimension key: count = gradient tensors.   partials: [count] f32 (sums of squares)   out: [2] f32 (norm, scale)
struct Params { count: u32, maxNorm: f32, _p0: u32, _p1: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) l: u32) {
  var s = 0.0;
  for (var i = l; i < P.count; i += WG) { s += partials[i]; }
  partial[l] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (l < stride) { partial[l] += partial[l + stride]; }
    workgroupBarrier();
  }
  if (l == 0u) {
    let norm = sqrt(partial[0]);
    var scale = 1.0;
    if (P.maxNorm > 0.0) { scale = min(1.0, P.maxNorm / (norm + 1e-6)); }
    out[0] = norm;
    out[1] = scale;
  }
}
