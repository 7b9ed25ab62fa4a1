// Gradient of y = x * inv * w with respect to w:   dw[c] (+)= sum_r dy[r, c] * x[r, c] * inv[r]
// Dimension key: R = rows, C = row width, LANES = row lanes per column (rows split r % LANES).
// x, dy: [R, C] f32   inv: [R] f32 (from rmsnorm_rstd.wgsl)   dw: [C] f32 (overwritten, or added to)
// A workgroup owns COLS adjacent columns; each column's rows are summed by LANES threads in a fixed
// stride, then a fixed tree over the lanes: deterministic, no atomics, and parallel over rows too
// (q/k norms have C = head dim but R = tokens * heads).
struct Params { R: u32, C: u32, accumulate: u32, _pad: u32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> inv: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;

const COLS: u32 = 16u;
const LANES: u32 = 16u;
var<workgroup> partial: array<f32, 256>; // [LANES, COLS]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = (wg.x + wg.y * nwg.x) * COLS + lid.x;
  let lane = lid.y;
  var s = 0.0;
  if (c < P.C) {
    for (var r = lane; r < P.R; r += LANES) {
      let at = r * P.C + c;
      s += dy[at] * x[at] * inv[r];
    }
  }
  partial[lane * COLS + lid.x] = s;
  workgroupBarrier();
  for (var stride = LANES / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) { partial[lane * COLS + lid.x] += partial[(lane + stride) * COLS + lid.x]; }
    workgroupBarrier();
  }
  if (lane == 0u && c < P.C) {
    var g = partial[lid.x];
    if (P.accumulate != 0u) { g += dw[c]; }
    dw[c] = g;
  }
}
