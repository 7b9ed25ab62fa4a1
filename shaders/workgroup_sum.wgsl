// Sum of one value per invocation across a workgroup of WG invocations (WG is a const of the
// shader that includes this part), in a fixed tree order so results repeat bit for bit.
// Every invocation of the workgroup must call it (it holds barriers); all get the total.
var<workgroup> wg_partial: array<f32, WG>;

fn workgroup_sum(l: u32, v: f32) -> f32 {
  wg_partial[l] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (l < stride) { wg_partial[l] += wg_partial[l + stride]; }
    workgroupBarrier();
  }
  let total = wg_partial[0];
  workgroupBarrier(); // the next call may overwrite wg_partial
  return total;
}
