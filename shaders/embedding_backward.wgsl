// dE[uniqueIds[u], :] = (accumulate ? dE[uniqueIds[u], :] : 0) + scale * sum_{i in starts[u] .. starts[u+1]} dx[order[i], :]
// (scale: the forward's, 1 but for Gemma's embed_scale)
// Token positions come grouped by id (embeddingGradPlan on the CPU), so each output row has exactly
// one writer and sums in a fixed order: no atomics, the same bits every run. Rows of ids that do not
// occur are left untouched. dE may be bound as a window of rows row0 .. row0+rows (a large table
// exceeds one binding); ids outside the window are skipped by this dispatch.
// Dimension key: T = tokens, U = unique ids, H = hidden, V = vocab rows.
// dx: [T, H] f32   order: [T] u32   starts: [U + 1] u32   uniqueIds: [U] u32   dE: [rows, H] f32 (window of [V, H])
struct Params { U: u32, H: u32, row0: u32, rows: u32, accumulate: u32, scale: f32, _p1: u32, _p2: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dx: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> starts: array<u32>;
@group(0) @binding(4) var<storage, read> uniqueIds: array<u32>;
@group(0) @binding(5) var<storage, read_write> dE: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let H4 = P.H / 4u;
  let i = g.x + g.y * nwg.x * 64u;
  if (i >= P.U * H4) { return; }
  let u = i / H4;
  let c = i % H4;
  let id = uniqueIds[u];
  if (id < P.row0 || id >= P.row0 + P.rows) { return; }
  var s = vec4<f32>(0.0);
  let end = starts[u + 1u];
  for (var j = starts[u]; j < end; j++) {
    s += dx[order[j] * H4 + c];
  }
  let at = (id - P.row0) * H4 + c;
  s *= P.scale;
  if (P.accumulate != 0u) { s = dE[at] + s; }
  dE[at] = s;
}
