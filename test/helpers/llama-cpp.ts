// llama.cpp itself (node-llama-cpp's prebuilt) as the real client: the next-token distribution it
// gives for a prompt, with or without a GGUF LoRA, and the measures the tests compare it by.

import type { Llama, Token } from 'node-llama-cpp';

export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const p = Float64Array.from(logits, (x) => Math.exp(x - max));
  const s = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / s);
}

/** KL(p || q) in nats. */
export function kl(p: Float64Array, q: Float64Array): number {
  let d = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) d += p[i]! * Math.log(p[i]! / Math.max(q[i]!, 1e-30));
  return d;
}

/** llama.cpp's probabilities [V] for the token after `prompt`, from the model file and an optional GGUF LoRA. */
export async function llamaCppNext(llama: Llama, modelPath: string, adapterPath: string | null, prompt: number[], V: number): Promise<Float64Array> {
  const model = await llama.loadModel({ modelPath });
  try {
    const context = await model.createContext({ contextSize: 64, ...(adapterPath ? { lora: adapterPath } : {}) });
    const seq = context.getSequence();
    const gen = seq.evaluateWithMetadata(prompt as Token[], { probabilities: true }, { temperature: 1, topK: 0, topP: 1, minP: 0 });
    const first = await gen.next();
    await gen.return();
    const probs = new Float64Array(V);
    for (const [token, p] of (first.value as { probabilities: Map<Token, number> }).probabilities) probs[token] = p;
    await context.dispose();
    return probs;
  } finally {
    await model.dispose();
  }
}
