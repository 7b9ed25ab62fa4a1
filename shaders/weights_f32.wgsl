// Frozen weights stored as f32. W: [rows, K] read 4 values at a time (K % 4 == 0).
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;
fn load_w4(i: u32) -> vec4<f32> { return W[i]; }
