// Frozen weights in ggml's Q2_K (already word-aligned, uploaded as is): super-blocks of 256 weights,
// 21 words each: scales[16] (words 0-3), qs[64] (words 4-19), f16 d, f16 dmin (word 20).
// Weight e = 128 n + 32 j + l (l < 32) is bits 2j..2j+1 of qs[32 n + l]; its sub-block is e / 16,
// whose byte holds a 4-bit scale (low nibble) and min (high). y = (d * sc) * q - dmin * m.
// Dimension key: K = columns of W (a multiple of the block size), blk = block from the chunk's start,
// o = group of 4 weights within the block (WQ_G4 groups per block).
// W: [rows, K] as blocks; rows are whole blocks, so a kernel that walks row n, group k of 4 finds it
// at block n * (K / 4 / WQ_G4) + k / WQ_G4, group k % WQ_G4 of it, and needs no K in here.
// wq_scale(blk, o) decodes the scale (and min) of the sub-block holding group o of block blk (WQ_SUB4
// groups share one); wq_apply(blk, o, s) dequantizes group o with it, exactly as ggml's
// dequantize_row_* does in f32; weights_quant.wgsl builds load_w4 / load_w8 from the two.
@group(0) @binding(1) var<storage, read> W: array<u32>;
const WQ_G4: u32 = 64u;
const WQ_SUB4: u32 = 4u;

fn wq_scale(blk: u32, o: u32) -> vec2<f32> {
  let sc = (W[blk * 21u + o / 16u] >> (8u * ((o / 4u) % 4u))) & 255u;
  let dm = unpack2x16float(W[blk * 21u + 20u]);
  return vec2<f32>(dm.x * f32(sc & 15u), dm.y * f32(sc >> 4u)); // (dl, ml)
}

fn wq_apply(blk: u32, o: u32, s: vec2<f32>) -> vec4<f32> {
  // o = 32 n + 8 j + l / 4: word 4 + 8 n + l / 4 holds weights l .. l+3 of pair j at bits 2j.
  let q = W[blk * 21u + 4u + 8u * (o / 32u) + o % 8u] >> (2u * ((o / 8u) % 4u));
  let v = (vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(3u);
  return s.x * vec4<f32>(v) - s.y;
}
