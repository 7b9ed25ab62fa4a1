// Frozen weights in ggml's Q4_0, repacked for the GPU (src/quant/gpu-layout.ts): blocks of 32
// weights, 5 words each: f16 d | 2 pad bytes, then qs[16]. Weight j < 16 is the low nibble of qs[j],
// weight j >= 16 the high nibble of qs[j - 16]. y = (q - 8) * d.
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
  return vec2<f32>(unpack2x16float(W[blk * 5u]).x, 0.0);
}

fn wq_apply(blk: u32, o: u32, s: vec2<f32>) -> vec4<f32> {
  // Groups 0-3 are the low nibbles of words 1-4, groups 4-7 their high nibbles.
  let q = W[blk * 5u + 1u + o % 4u] >> (4u * (o / 4u));
  let v = vec4<i32>((vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(15u)) - vec4<i32>(8);
  return vec4<f32>(v) * s.x;
}
