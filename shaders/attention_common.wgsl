// What the attention kernels share: their parameters, q/k/v at bindings 1-3, and which keys a
// query sees. Bindings from 4 on are each kernel's own.
// Dimension key: R = B*T query rows, T = rows per sequence, S = key slots per sequence,
// nH/nKV = query/key-value heads, HEAD_DIM = head dim (a compile-time const).
// q: [R, nH, HEAD_DIM]   k, v: [B, S, nKV, HEAD_DIM]
struct Params { R: u32, T: u32, S: u32, p0: u32, nH: u32, nKV: u32, window: u32, scale: f32 };
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;

/** The first key slot a query at slot `pos` sees: its document's start, raised by the sliding window. */
fn first_key(pos: u32, doc_start: u32) -> u32 {
  if (P.window > 0u && pos + 1u > P.window) { return max(doc_start, pos + 1u - P.window); }
  return doc_start;
}
