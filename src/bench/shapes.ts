// The projection shapes of real models, for the matmul scenario. Each linear is nn.Linear's
// W: [out, in], applied as Y[M, out] = X[M, in] @ W^T at M tokens. Shapes shared by several
// projections are measured once.
// Dimension key: H = hidden, I = intermediate, nH/nKV = query/key-value heads, D = head dim.

export interface ModelShape {
  name: string;
  H: number;
  I: number;
  nH: number;
  nKV: number;
  D: number;
}

export const SMOLLM2_135M: ModelShape = { name: 'SmolLM2-135M', H: 576, I: 1536, nH: 9, nKV: 3, D: 64 };
export const QWEN25_05B: ModelShape = { name: 'Qwen2.5-0.5B', H: 896, I: 4864, nH: 14, nKV: 2, D: 64 };
/** A small shape of the same kind, for --quick (and tests). */
export const QUICK_SHAPE: ModelShape = { name: 'quick', H: 64, I: 128, nH: 4, nKV: 2, D: 16 };

export interface ProjShape {
  model: string;
  proj: string;
  /** out_features, in_features */
  n: number;
  k: number;
}

/** q, k/v, o, gate/up, down with identical shapes merged, in that order. */
export function projectionShapes(s: ModelShape): ProjShape[] {
  const all: [string, number, number][] = [
    ['q_proj', s.nH * s.D, s.H],
    ['k_proj', s.nKV * s.D, s.H],
    ['v_proj', s.nKV * s.D, s.H],
    ['o_proj', s.H, s.nH * s.D],
    ['gate_proj', s.I, s.H],
    ['up_proj', s.I, s.H],
    ['down_proj', s.H, s.I],
  ];
  const out: ProjShape[] = [];
  for (const [proj, n, k] of all) {
    const same = out.find((o) => o.n === n && o.k === k);
    if (same) same.proj += `,${proj}`;
    else out.push({ model: s.name, proj, n, k });
  }
  return out;
}
