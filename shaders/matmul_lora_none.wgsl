// matmul.wgsl's LoRA term when there is no adapter: nothing.
fn lora_block(rows: vec4<u32>, cols: vec4<u32>) -> array<vec4<f32>, 4> {
  return array<vec4<f32>, 4>();
}
