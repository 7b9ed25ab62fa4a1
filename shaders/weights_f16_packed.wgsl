// Frozen weights stored as f16 on a device without shader-f16: two halves per u32.
// W: [rows, K], K % 4 == 0; element 2j is the low half of word j (little-endian).
@group(0) @binding(1) var<storage, read> W: array<vec2<u32>>;
fn load_w4(i: u32) -> vec4<f32> {
  let p = W[i];
  return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));
}
