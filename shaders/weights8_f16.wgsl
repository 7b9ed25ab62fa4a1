// Frozen weights stored as f16, read 8 values at a time as four u32 words (two halves each, the low half
// first): one 16-byte load, with or without shader-f16. W: [rows, K], K % 8 == 0; i counts groups of 8.
@group(0) @binding(1) var<storage, read> W: array<vec4<u32>>;
fn load_w8(i: u32) -> array<vec4<f32>, 2> {
  let p = W[i];
  return array<vec4<f32>, 2>(vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y)),
                             vec4<f32>(unpack2x16float(p.z), unpack2x16float(p.w)));
}
