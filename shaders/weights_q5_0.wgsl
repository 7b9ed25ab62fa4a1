// Frozen weights in ggml's Q5_0, repacked for the GPU (src/quant/gpu-layout.ts): blocks of 32
// weights, 6 words each: f16 d | 2 pad bytes, qh (bit j: the 5th bit of weight j), then qs[16].
// Weight j < 16 has the low nibble of qs[j], weight j >= 16 the high nibble of qs[j - 16].
// y = ((nibble | 5th bit << 4) - 16) * d.
// Dimension key: K = columns of W (a multiple of the block size), blk = block from the chunk's start,
// o = group of 4 weights within the block (WQ_G4 groups per block).
// W: [rows, K] as blocks; rows are whole blocks, so a kernel that walks row n, group k of 4 finds it
// at block n * (K / 4 / WQ_G4) + k / WQ_G4, group k % WQ_G4 of it, and needs no K in here.
// wq_scale(blk, o) decodes the scale (and min) of the sub-block holding group o of block blk (WQ_SUB4
// groups share one); wq_apply(blk, o, s) dequantizes group o with it, exactly as ggml's
// dequantize_row_* does in f32; weights_quant.wgsl builds load_w4 / load_w8 from the two.
@group(0) @binding(1) var<storage, read> W: array<u32>;
const WQ_G4: u32 = 8u;
const WQ_SUB4: u32 = 8u;

fn wq_scale(blk: u32, o: u32) -> vec2<f32> {
  return vec2<f32>(unpack2x16float(W[blk * 6u]).x, 0.0);
}

fn wq_apply(blk: u32, o: u32, s: vec2<f32>) -> vec4<f32> {
  let q = W[blk * 6u + 2u + o % 4u] >> (4u * (o / 4u));
  let h = W[blk * 6u + 1u] >> (4u * o);
  let lo = (vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(15u);
  let hi = ((vec4<u32>(h) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u)) << vec4<u32>(4u);
  return vec4<f32>(vec4<i32>(lo | hi) - vec4<i32>(16)) * s.x;
}
