// db[n] = (accumulate ? db[n] : 0) + sum over rows m of dy[m, n]   (the gradient of a bias)
// Dimension key: M = rows (tokens), N = features.   dy: [M, N] f32   db: [N] f32
// One invocation per feature sums its column in row order, so the result is repeatable.
struct Params { M: u32, N: u32, accumulate: u32, _a: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let n = g.x;
  if (n >= P.N) { return; }
  var s = 0.0;
  for (var m = 0u; m < P.M; m++) { s += dy[m * P.N + n]; }
  if (P.accumulate != 0u) { s += db[n]; }
  db[n] = s;
}
