// Which frozen input-gradient products the backward pass computes in a layer. Nothing below the
// lowest adapter is trained, so in that layer the gradient only has to reach the earliest adapted
// module: a product whose only use would be the gradient of the layers below is skipped, and so is
// the rest of the chain behind it (attention backward, norms). Full fine-tuning needs everything.
// Layer order: x -> norm -> q,k,v -> attention -> o -> x1 = x + o;  x1 -> norm -> gate,up -> SwiGLU -> down -> x2 = x1 + down.
// (Gemma 3 norms o and down before their residual adds and uses GeGLU: the same products, the same plan.)

import type { LinearModule } from '../model/params.ts';

export interface LayerBackwardPlan {
  /** d loss / d x (the layer's input): what the layer below needs. */
  inputGrad: boolean;
  /** d loss / d x1 (the residual between attention and MLP): needed by o_proj's adapter or anything before it. */
  residualGrad: boolean;
  /** Attention backward (dQ, dK, dV): needed by q/k/v adapters or the input gradient. */
  attention: boolean;
  /** The modules whose frozen input-gradient product dX = dY W runs. */
  inputGradOf: Set<LinearModule>;
}

/** `adapted`: modules of this layer with trainable weights; `belowNeedsGrad`: a layer below trains too. */
export function layerBackwardPlan(adapted: (m: LinearModule) => boolean, belowNeedsGrad: boolean): LayerBackwardPlan {
  const inputGrad = belowNeedsGrad;
  const attention = inputGrad || adapted('q_proj') || adapted('k_proj') || adapted('v_proj');
  const residualGrad = attention || adapted('o_proj');
  const inputGradOf = new Set<LinearModule>();
  if (inputGrad) inputGradOf.add('q_proj').add('k_proj').add('v_proj');
  if (attention) inputGradOf.add('o_proj');
  if (residualGrad) inputGradOf.add('gate_proj').add('up_proj');
  if (residualGrad || adapted('gate_proj') || adapted('up_proj')) inputGradOf.add('down_proj');
  return { inputGrad, residualGrad, attention, inputGradOf };
}
