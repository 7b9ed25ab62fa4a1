// ggml's tensor types as GGUF files name them: id, block size (weights per block) and bytes per
// block, for every type a file may hold. The quantized types tabtune computes with are the ones that
// llama.cpp's Q2_K .. Q8_0 files (and their _S/_M/_L mixes) contain; the others are named only so
// that refusing them can say what they are.

/** Block formats tabtune reads, dequantizes and writes. */
export type QuantType = 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K';
export type FloatType = 'F32' | 'F16' | 'BF16';
export type GgmlType = FloatType | QuantType;

export interface GgmlTypeInfo {
  id: number;
  name: string;
  /** Weights per block. */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
}

const TABLE: [number, string, number, number][] = [
  [0, 'F32', 1, 4], [1, 'F16', 1, 2], [2, 'Q4_0', 32, 18], [3, 'Q4_1', 32, 20], [6, 'Q5_0', 32, 22],
  [7, 'Q5_1', 32, 24], [8, 'Q8_0', 32, 34], [9, 'Q8_1', 32, 36], [10, 'Q2_K', 256, 84], [11, 'Q3_K', 256, 110],
  [12, 'Q4_K', 256, 144], [13, 'Q5_K', 256, 176], [14, 'Q6_K', 256, 210], [15, 'Q8_K', 256, 292],
  [16, 'IQ2_XXS', 256, 66], [17, 'IQ2_XS', 256, 74], [18, 'IQ3_XXS', 256, 98], [19, 'IQ1_S', 256, 50],
  [20, 'IQ4_NL', 32, 18], [21, 'IQ3_S', 256, 110], [22, 'IQ2_S', 256, 82], [23, 'IQ4_XS', 256, 136],
  [24, 'I8', 1, 1], [25, 'I16', 1, 2], [26, 'I32', 1, 4], [27, 'I64', 1, 8], [28, 'F64', 1, 8],
  [29, 'IQ1_M', 256, 56], [30, 'BF16', 1, 2], [34, 'TQ1_0', 256, 54], [35, 'TQ2_0', 256, 66],
  [39, 'MXFP4', 32, 17],
];

export const GGML_TYPES_BY_ID = new Map<number, GgmlTypeInfo>(TABLE.map(([id, name, blockSize, blockBytes]) => [id, { id, name, blockSize, blockBytes }]));
export const GGML_TYPES_BY_NAME = new Map<string, GgmlTypeInfo>([...GGML_TYPES_BY_ID.values()].map((t) => [t.name, t]));

export const QUANT_TYPES: readonly QuantType[] = ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'];
export const COMPUTE_TYPES: readonly GgmlType[] = ['F32', 'F16', 'BF16', ...QUANT_TYPES];

export function isQuantType(t: string): t is QuantType {
  return (QUANT_TYPES as readonly string[]).includes(t);
}

export function typeInfo(t: GgmlType): GgmlTypeInfo {
  return GGML_TYPES_BY_NAME.get(t)!;
}

/** Bytes of `n` consecutive weights of one row (n a multiple of the block size). */
export function rowBytes(t: GgmlType, n: number): number {
  const info = typeInfo(t);
  if (n % info.blockSize !== 0) throw new Error(`${n} weights are not a whole number of ${t} blocks (${info.blockSize} each)`);
  return (n / info.blockSize) * info.blockBytes;
}
