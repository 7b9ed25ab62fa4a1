// Frozen weights stored as f16, read natively (device has shader-f16). W: [rows, K], K % 4 == 0.
@group(0) @binding(1) var<storage, read> W: array<vec4<f16>>;
fn load_w4(i: u32) -> vec4<f32> { return vec4<f32>(W[i]); }
