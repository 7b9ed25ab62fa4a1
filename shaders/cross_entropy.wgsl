// Running log-sum-exp over one vocabulary chunk of logits, merged into a per-row state, so the
// full [T, V] logits never need to exist at once. After the last chunk:
//   logsumexp = state.x + log(state.y);  loss(row) = logsumexp - state.z  (when the row has a target)
// Dimension key: R = rows (tokens), Vc = vocab columns in this chunk, v0 = first vocab id of the chunk.
// logits: [R, Vc] f32   targets: [R] i32 (-100 = none)   state: [R] vec4 (max, sum exp(l - max), target logit, -)
struct Params { R: u32, Vc: u32, v0: u32, first: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;

const WG: u32 = 64u;
var<workgroup> wmax: array<f32, WG>;
var<workgroup> wsum: array<f32, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) l: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= P.R) { return; }
  let base = r * P.Vc;
  var m = -3.0e38;
  var s = 0.0;
  for (var c = l; c < P.Vc; c += WG) {
    let x = logits[base + c];
    let mNew = max(m, x);
    s = s * exp(m - mNew) + exp(x - mNew);
    m = mNew;
  }
  wmax[l] = m;
  wsum[l] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (l < stride) {
      let m1 = wmax[l];
      let m2 = wmax[l + stride];
      let mNew = max(m1, m2);
      wsum[l] = wsum[l] * exp(m1 - mNew) + wsum[l + stride] * exp(m2 - mNew);
      wmax[l] = mNew;
    }
    workgroupBarrier();
  }
  if (l == 0u) {
    var st = vec4<f32>(-3.0e38, 0.0, 0.0, 0.0);
    if (P.first == 0u) { st = state[r]; }
    let mNew = max(st.x, wmax[0]);
    st.y = st.y * exp(st.x - mNew) + wsum[0] * exp(wmax[0] - mNew);
    st.x = mNew;
    let t = targets[r];
    if (t >= i32(P.v0) && t < i32(P.v0 + P.Vc)) { st.z = logits[base + u32(t) - P.v0]; }
    state[r] = st;
  }
}
