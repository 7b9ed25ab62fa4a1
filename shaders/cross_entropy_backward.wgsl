// dlogits of the mean-or-sum cross-entropy for one vocabulary chunk, written over the logits in place:
//   dlogits[r, c] = targets[r] == -100 ? 0 : scale * (softmax(row r)[v0 + c] - (v0 + c == targets[r]))
// With a softcap (cap > 0) the logits are y = cap * tanh(z / cap) and the gradient goes on to z:
// times dy/dz = 1 - (y / cap)^2, which needs only y, so it happens here, in place.
// softmax = exp(logit - lse), lse = state.x + log(state.y) from the final state that the forward
// (cross_entropy.wgsl) left after the last chunk; computed as exp(logit - max) / sum, the same value.
// Dimension key: R = rows (tokens), Vc = vocab columns in this chunk, v0 = first vocab id of the chunk.
// logits: [R, Vc] f32 (in: logits, out: dlogits)   targets: [R] i32 (-100 = none)   state: [R] vec4
struct Params { R: u32, Vc: u32, v0: u32, scale: f32, cap: f32, _a: u32, _b: u32, _c: u32 }; // cap 0 = none
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read> state: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= P.R * P.Vc) { return; }
  let r = i / P.Vc;
  let c = i % P.Vc;
  let t = targets[r];
  if (t == -100) {
    logits[i] = 0.0;
    return;
  }
  let st = state[r];
  let y = logits[i];
  var d = exp(y - st.x) / st.y;
  if (t == i32(P.v0 + c)) { d -= 1.0; }
  if (P.cap > 0.0) {
    let th = y / P.cap;
    d *= 1.0 - th * th;
  }
  logits[i] = P.scale * d;
}
