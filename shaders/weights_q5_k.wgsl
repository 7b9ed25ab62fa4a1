// Frozen weights in ggml's Q5_K, repacked for the GPU (src/quant/gpu-layout.ts): super-blocks of 256
// weights, 45 words each: f16 d, f16 dmin (word 0); the 6-bit scale and min of sub-block s (ggml's
// get_scale_min_k4, unpacked) as bytes 0 and 1 (s even) or 2 and 3 (s odd) of word 1 + s / 2;
// qh[32] (words 5-12), qs[128] (words 13-44). Weight e = 64 j + 32 h + l (l < 32): nibble h of
// qs[32 j + l], 5th bit 2j + h of qh[l]; its sub-block is e / 32. y = (d * sc) * q - dmin * m.
// Dimension key: K = columns of W (a multiple of the block size), blk = block from the chunk's start,
// o = group of 4 weights within the block (WQ_G4 groups per block).
// W: [rows, K] as blocks; rows are whole blocks, so a kernel that walks row n, group k of 4 finds it
// at block n * (K / 4 / WQ_G4) + k / WQ_G4, group k % WQ_G4 of it, and needs no K in here.
// wq_scale(blk, o) decodes the scale (and min) of the sub-block holding group o of block blk (WQ_SUB4
// groups share one); wq_apply(blk, o, s) dequantizes group o with it, exactly as ggml's
// dequantize_row_* does in f32; weights_quant.wgsl builds load_w4 / load_w8 from the two.
@group(0) @binding(1) var<storage, read> W: array<u32>;
const WQ_G4: u32 = 64u;
const WQ_SUB4: u32 = 8u;

fn wq_scale(blk: u32, o: u32) -> vec2<f32> {
  let s = o / 8u;
  let p = W[blk * 45u + 1u + s / 2u] >> (16u * (s % 2u));
  let dm = unpack2x16float(W[blk * 45u]);
  return vec2<f32>(dm.x * f32(p & 255u), dm.y * f32((p >> 8u) & 255u)); // (d1, m1)
}

fn wq_apply(blk: u32, o: u32, s: vec2<f32>) -> vec4<f32> {
  let b = blk * 45u;
  let hbit = o / 8u; // 2j + h
  let q = (W[b + 13u + 8u * (o / 16u) + o % 8u] >> (4u * (hbit % 2u))) & 0x0f0f0f0fu;
  let h = (W[b + 5u + o % 8u] >> hbit) & 0x01010101u;
  let v = (vec4<u32>(q | (h << 4u)) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(31u);
  return s.x * vec4<f32>(v) - s.y;
}
