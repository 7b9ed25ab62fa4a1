// Picks the next token from logits: greedy at temperature 0, else temperature + nucleus (top-p)
// sampling from a seeded generator, so a seed repeats a run.
// Dimension key: V = vocab.   logits: [V]

export { seededRandom } from '../util/random.ts';

export interface SamplingOptions {
  temperature: number;
  topP: number;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

export function sampleToken(logits: Float32Array, o: SamplingOptions, random: () => number): number {
  if (o.temperature <= 0) return argmax(logits);
  const max = logits[argmax(logits)]!;
  const probs = Array.from(logits, (l, i) => ({ i, p: Math.exp((l - max) / o.temperature) }));
  const total = probs.reduce((s, x) => s + x.p, 0);
  probs.sort((a, b) => b.p - a.p);
  // Keep the smallest set of top tokens whose mass reaches top_p.
  const keep: typeof probs = [];
  let mass = 0;
  for (const x of probs) {
    keep.push(x);
    mass += x.p / total;
    if (mass >= o.topP) break;
  }
  let u = random() * keep.reduce((s, x) => s + x.p, 0);
  for (const x of keep) {
    u -= x.p;
    if (u <= 0) return x.i;
  }
  return keep[keep.length - 1]!.i;
}
