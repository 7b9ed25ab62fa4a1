// load_w4 / load_w8 for weights in a ggml block format, from the format's wq_scale / wq_apply
// (weights_q*.wgsl, placed before this part).
// Dimension key: K = columns of W (a multiple of the block size), WQ_G4 = groups of 4 per block.
// W: [rows, K] as blocks; i counts groups of 4 (load_w4) or 8 (load_w8) from the chunk's start.
// A group of 8 never straddles a sub-block (they hold 16 or 32 weights), so one scale serves it.

fn load_w4(i: u32) -> vec4<f32> {
  let blk = i / WQ_G4;
  let o = i % WQ_G4;
  return wq_apply(blk, o, wq_scale(blk, o));
}

// Groups o, o + 1 (o even) of block blk: 8 weights under one scale.
fn wq_load8(blk: u32, o: u32) -> array<vec4<f32>, 2> {
  let s = wq_scale(blk, o);
  return array<vec4<f32>, 2>(wq_apply(blk, o, s), wq_apply(blk, o + 1u, s));
}

fn load_w8(i: u32) -> array<vec4<f32>, 2> {
  return wq_load8(i / (WQ_G4 / 2u), 2u * (i % (WQ_G4 / 2u)));
}
