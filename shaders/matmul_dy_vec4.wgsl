// dY of the input-gradient product read as vec4 (row stride and first column multiples of 4, so
// every dy4 is aligned): one load instead of four, which matters where each load costs per lane.
@group(0) @binding(2) var<storage, read> DY: array<vec4<f32>>;
fn dy1(at: u32) -> f32 { return DY[at / 4u][at % 4u]; }
fn dy4(at: u32) -> vec4<f32> { return DY[at / 4u]; }
