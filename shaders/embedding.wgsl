// out[t, :] = scale * W[ids[t] - row0, :] for tokens whose id falls in this chunk of the table
// (scale is 1 but for Gemma's embed_scale).
// Dimension key: T = tokens, H = hidden, R = rows of this chunk of the embedding table.
// ids: [T] u32   W: [R, H] (via load_w4)   out: [T, H] f32
struct Params { T: u32, H: u32, row0: u32, rows: u32, scale: f32, _a: u32, _b: u32, _c: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let H4 = P.H / 4u;
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= P.T * H4) { return; }
  let t = i / H4;
  let c = i % H4;
  let id = ids[t];
  if (id < P.row0 || id >= P.row0 + P.rows) { return; }
  out[i] = P.scale * load_w4((id - P.row0) * H4 + c);
}
