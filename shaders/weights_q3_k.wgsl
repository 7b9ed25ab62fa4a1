// Frozen weights in ggml's Q3_K, repacked for the GPU (src/quant/gpu-layout.ts): super-blocks of 256
// weights, 29 words each: hmask[32] (words 0-7), qs[64] (words 8-23), the 6-bit scales of the 16
// sub-blocks a byte each (words 24-27; ggml packs them into 12 bytes), f16 d | 2 pad bytes (word 28).
// Weight e = 128 n + 32 j + l (l < 32): low bits 2j..2j+1 of qs[32 n + l], high bit 4n + j of
// hmask[l]; q = low - (high ? 0 : 4). Its sub-block is e / 16. y = (d * (scale - 32)) * q.
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
  let s = o / 4u;
  let sc = (W[blk * 29u + 24u + s / 4u] >> (8u * (s % 4u))) & 255u;
  let d = unpack2x16float(W[blk * 29u + 28u]).x;
  return vec2<f32>(d * f32(i32(sc) - 32), 0.0);
}

fn wq_apply(blk: u32, o: u32, s: vec2<f32>) -> vec4<f32> {
  let b = blk * 29u;
  let j = (o / 8u) % 4u;
  // o = 32 n + 8 j + l / 4: qs word 8 + 8 n + l / 4 and hmask word l / 4 hold weights l .. l+3.
  let q = (W[b + 8u + 8u * (o / 32u) + o % 8u] >> (2u * j)) & 0x03030303u;
  let h = (W[b + o % 8u] >> (4u * (o / 32u) + j)) & 0x01010101u;
  let v = (vec4<u32>(q | (h << 2u)) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(7u);
  return s.x * vec4<f32>(vec4<i32>(v) - vec4<i32>(4));
}
