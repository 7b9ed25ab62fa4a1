// Frozen weights stored as bf16 bits (the top half of an f32), read 8 values at a time as four u32
// words, the low half first. W: [rows, K], K % 8 == 0; i counts groups of 8.
@group(0) @binding(1) var<storage, read> W: array<vec4<u32>>;
fn bf16_pair(p: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(p << 16u), bitcast<f32>(p & 0xffff0000u)); }
fn load_w8(i: u32) -> array<vec4<f32>, 2> {
  let p = W[i];
  return array<vec4<f32>, 2>(vec4<f32>(bf16_pair(p.x), bf16_pair(p.y)), vec4<f32>(bf16_pair(p.z), bf16_pair(p.w)));
}
