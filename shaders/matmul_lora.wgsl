// matmul.wgsl's LoRA term: lora_scale * U[rows] @ LB[lora_n0 + cols]^T for one 4x4 block of Y,
// so LoRA's B(Ax) lands in the base product's epilogue instead of a second pass over Y.
// Dimension key: M = rows, r4 = LoRA rank padded to 4 (lora_r4), N = this chunk's columns.
// U: [M, r4] f32 (X A^T)   LB: [lora_n0 + N, r4] f32 (LoRA's B, [out, r4])
// rows: 4 row indices of Y (clamped into range), cols: 4 column indices within the chunk (clamped).
@group(0) @binding(5) var<storage, read> U: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> LB: array<vec4<f32>>;

fn lora_block(rows: vec4<u32>, cols: vec4<u32>) -> array<vec4<f32>, 4> {
  let R4 = P.lora_r4 / 4u;
  let ur = rows * R4;
  let br = (cols + vec4<u32>(P.lora_n0)) * R4;
  var l0 = vec4<f32>(0.0);
  var l1 = vec4<f32>(0.0);
  var l2 = vec4<f32>(0.0);
  var l3 = vec4<f32>(0.0);
  for (var k = 0u; k < R4; k++) {
    let b0 = LB[br.x + k];
    let b1 = LB[br.y + k];
    let b2 = LB[br.z + k];
    let b3 = LB[br.w + k];
    let u0 = U[ur.x + k];
    let u1 = U[ur.y + k];
    let u2 = U[ur.z + k];
    let u3 = U[ur.w + k];
    l0 += vec4<f32>(dot(u0, b0), dot(u0, b1), dot(u0, b2), dot(u0, b3));
    l1 += vec4<f32>(dot(u1, b0), dot(u1, b1), dot(u1, b2), dot(u1, b3));
    l2 += vec4<f32>(dot(u2, b0), dot(u2, b1), dot(u2, b2), dot(u2, b3));
    l3 += vec4<f32>(dot(u3, b0), dot(u3, b1), dot(u3, b2), dot(u3, b3));
  }
  return array<vec4<f32>, 4>(P.lora_scale * l0, P.lora_scale * l1, P.lora_scale * l2, P.lora_scale * l3);
}
