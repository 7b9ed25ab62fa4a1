// Frozen weights stored as bf16 bits: the top half of an f32, so unpacking is a shift.
// W: [rows, K], K % 4 == 0; element 2j is the low half of word j (little-endian).
@group(0) @binding(1) var<storage, read> W: array<vec2<u32>>;
fn load_w4(i: u32) -> vec4<f32> {
  let p = W[i];
  return vec4<f32>(bitcast<f32>(p.x << 16u), bitcast<f32>(p.x & 0xffff0000u),
                   bitcast<f32>(p.y << 16u), bitcast<f32>(p.y & 0xffff0000u));
}
