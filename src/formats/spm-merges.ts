// BPE merges equivalent to a SentencePiece vocabulary's scores. llama.cpp's SPM tokenizer repeatedly
// joins the adjacent pair whose concatenation is the highest-scoring token; a BPE model does the
// same when every way of writing a token as two pieces is a merge ranked by that token's score.
// That is how transformers' GGUFTokenizerSkeleton derives them (ties: the pieces' own scores, then
// vocabulary order). One addition: llama.cpp also joins a single character that is not itself a
// token (it starts as its own symbol), so such a character counts as a piece too.

interface Candidate {
  left: string;
  right: string;
  leftScore: number;
  rightScore: number;
}

const byScoreDesc = (a: number, b: number) => (a === b ? 0 : a > b ? -1 : 1);
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** Merges as [left, right] pairs, best first. `tokens` must be unique. */
export function mergesFromScores(tokens: readonly string[], scores: readonly number[]): [string, string][] {
  const scoreOf = new Map<string, number>();
  tokens.forEach((t, i) => scoreOf.set(t, scores[i] ?? 0));
  const isOneCodepoint = (s: string) => s.length === 1 || (s.length === 2 && isLowSurrogate(s.charCodeAt(1)));
  const pieceScore = (piece: string): number | undefined => scoreOf.get(piece) ?? (isOneCodepoint(piece) ? -Infinity : undefined);

  // Every merge of a token shares its score: ordering the tokens orders the merges.
  const order = tokens.map((_, i) => i).filter((i) => !isOneCodepoint(tokens[i]!));
  order.sort((a, b) => byScoreDesc(scores[a] ?? 0, scores[b] ?? 0) || a - b);

  const out: [string, string][] = [];
  const local: Candidate[] = [];
  for (const i of order) {
    const token = tokens[i]!;
    local.length = 0;
    for (let k = 1; k < token.length; k++) {
      if (isLowSurrogate(token.charCodeAt(k))) continue;
      const left = token.slice(0, k);
      const right = token.slice(k);
      const leftScore = pieceScore(left);
      const rightScore = leftScore === undefined ? undefined : pieceScore(right);
      if (leftScore !== undefined && rightScore !== undefined) local.push({ left, right, leftScore, rightScore });
    }
    if (local.length > 1) local.sort((a, b) => byScoreDesc(a.leftScore, b.leftScore) || byScoreDesc(a.rightScore, b.rightScore));
    for (const c of local) out.push([c.left, c.right]);
  }
  return out;
}
