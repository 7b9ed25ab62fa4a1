// Frozen weights stored as f32, read 8 values at a time. W: [rows, K], K % 8 == 0; i counts groups of 8.
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;
fn load_w8(i: u32) -> array<vec4<f32>, 2> { return array<vec4<f32>, 2>(W[2u * i], W[2u * i + 1u]); }
