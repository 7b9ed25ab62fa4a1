// tanh(x) and 1 - tanh(x)^2, finite for every finite x: the builtin tanh of some drivers computes
// (e^x - e^-x) / (e^x + e^-x), which is inf / inf = NaN past |x| ~ 44. Here e = exp(-2|x|) <= 1;
// near 0 a Taylor series keeps the relative precision that 1 - e loses.
// Included as a part by the shaders that soft-cap or apply gelu's tanh approximation.

/** vec2(tanh(x), 1 - tanh(x)^2). */
fn tanh_sech2(x: f32) -> vec2<f32> {
  let a = abs(x);
  if (a < 1.0e-2) {
    let t = x * (1.0 - x * x / 3.0);
    return vec2<f32>(t, 1.0 - t * t);
  }
  let e = exp(-2.0 * a);
  let t = (1.0 - e) / (1.0 + e);
  return vec2<f32>(select(-t, t, x >= 0.0), 4.0 * e / ((1.0 + e) * (1.0 + e)));
}

fn tanh_safe(x: f32) -> f32 {
  return tanh_sech2(x).x;
}
