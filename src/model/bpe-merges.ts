// Learns byte-pair merges from word counts, deterministically: the most frequent adjacent pair
// wins, ties go to the smaller pair so the result never depends on Map order. Used to build real
// BPE tokenizers for generated models and tests.

export interface BpeWord {
  /** The word's current symbols; merged in place. */
  syms: string[];
  count: number;
}

/**
 * Appends up to `numMerges` merges ("a b") and their tokens to `vocab` (new ids at the end; a
 * token spelled by two merge paths keeps its first id). Stops when no pair occurs `minCount` times.
 */
export function learnMerges(words: BpeWord[], vocab: Map<string, number>, numMerges: number, minCount = 1): string[] {
  const merges: string[] = [];
  for (let m = 0; m < numMerges; m++) {
    const pairs = new Map<string, number>();
    for (const { syms, count } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | null = null;
    let bestCount = minCount - 1;
    for (const [key, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== null && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === null) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push(best);
    if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(w.syms[i]!);
      }
      w.syms = out;
    }
  }
  return merges;
}
