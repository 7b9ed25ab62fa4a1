// Frozen weights in ggml's Q6_K, repacked for the GPU (src/quant/gpu-layout.ts): super-blocks of 256
// weights, 53 words each: ql[128] (words 0-31), qh[64] (words 32-47), scales[16] int8 (words 48-51),
// f16 d | 2 pad bytes (word 52).
// Weight e = 128 n + 32 k + l (l < 32): nibble k / 2 of ql[64 n + 32 (k % 2) + l], topped by bits
// 2k..2k+1 of qh[32 n + l]; q = that 6-bit value - 32. Sub-block e / 16 has the int8 scale.
// y = (d * sc) * q.
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
  // Byte s % 4 of the word, sign-extended.
  let sc = bitcast<i32>(W[blk * 53u + 48u + s / 4u] << (24u - 8u * (s % 4u))) >> 24u;
  return vec2<f32>(unpack2x16float(W[blk * 53u + 52u]).x * f32(sc), 0.0);
}

fn wq_apply(blk: u32, o: u32, s: vec2<f32>) -> vec4<f32> {
  let b = blk * 53u;
  let n = o / 32u;
  let k = (o / 8u) % 4u;
  // o = 32 n + 8 k + l / 4: ql word 16 n + 8 (k % 2) + l / 4 and qh word 32 + 8 n + l / 4.
  let lo = (W[b + 16u * n + 8u * (k % 2u) + o % 8u] >> (4u * (k / 2u))) & 0x0f0f0f0fu;
  let hi = (W[b + 32u + 8u * n + o % 8u] >> (2u * k)) & 0x03030303u;
  let v = (vec4<u32>(lo | (hi << 4u)) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(63u);
  return s.x * vec4<f32>(vec4<i32>(v) - vec4<i32>(32));
}
