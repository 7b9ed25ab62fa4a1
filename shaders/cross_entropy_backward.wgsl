// dlogits of the mean-or-sum cross-entropy for one vocabulary chunk, written over the logits in place:
//   dlogits[r, c] = targets[r] == -100 ? 0 : scale * (softmax(row r)[v0 + c] - (v0 + c == targets[r]))
// softmax = exp(logit - lse), lse = state.x + log(state.y) from the final state that the forward
// (cross_entropy.wgsl) left after the last chunk; computed as exp(logit - max) / sum, the same value.
// Dimension key: R = rows (tokens), Vc = vocab columns in this chunk, v0 = first vocab id of the chunk.
// logits: [R, Vc] f32 (in: logits, out: dlogits)   targets: [R] i32 (-100 = none)   state: [R] vec4
struct Params { R: u32, Vc: u32, v0: u32, scale: f32 };
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
  var d = exp(logits[i] - st.x) / st.y;
  if (t == i32(P.v0 + c)) { d -= 1.0; }
  logits[i] = P.scale * d;
}
