// dY of the input-gradient product read one f32 at a time: any row stride or first column.
@group(0) @binding(2) var<storage, read> DY: array<f32>;
fn dy1(at: u32) -> f32 { return DY[at]; }
fn dy4(at: u32) -> vec4<f32> { return vec4<f32>(DY[at], DY[at + 1u], DY[at + 2u], DY[at + 3u]); }
