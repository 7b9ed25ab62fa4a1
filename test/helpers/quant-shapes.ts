// Odd test shapes for weights in ggml's block formats: rows not a multiple of anything, K one block
// and several blocks, M = 1, 3, 17 tokens, and a chunkRows that splits W into several chunks.
// Dimension key: M = tokens, N = rows of W, K = columns of W (a multiple of the block size).

import { typeInfo, type QuantType } from '../../src/quant/ggml-types.ts';

export interface QuantShape {
  M: number;
  N: number;
  K: number;
  /** undefined: one chunk. */
  chunkRows?: number;
}

export function quantShapes(type: QuantType): QuantShape[] {
  const bs = typeInfo(type).blockSize;
  return [
    { M: 1, N: 37, K: bs },
    { M: 3, N: 97, K: 3 * bs },
    { M: 17, N: 37, K: 2 * bs, chunkRows: 10 }, // chunks of 10, 10, 10, 7 rows
  ];
}
