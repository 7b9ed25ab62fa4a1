// What a GGUF file's weights are stored in, for people choosing between a repo's files: the quant
// type its name carries by convention (llama.cpp's and the big uploaders' "-Q4_K_M.gguf"), and what
// its header says (the file type it was made as, and how many matrices of each ggml type it holds).

import type { GgufHeader } from './gguf.ts';

// llama-quantize's type names, longest first within a family so Q4_K_M is not read as Q4_K.
const QUANT_NAME = /(?:^|[-_.\s])((?:IQ[1-4]_(?:XXS|XS|NL|S|M|L))|(?:Q[2-8]_K(?:_(?:XL|S|M|L))?)|(?:Q[2-8]_[01](?:_[48]_[48])?)|(?:TQ[12]_0)|(?:MXFP4(?:_MOE)?)|BF16|F16|F32)(?=$|[-_.\s])/i;

/** "model-Q4_K_M.gguf" -> "Q4_K_M"; null when the name carries no type. */
export function quantFromName(path: string): string | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const m = QUANT_NAME.exec(base);
  return m ? m[1]!.toUpperCase() : null;
}

/** llama.cpp's llama_ftype values (general.file_type), as llama-quantize names them. */
const FILE_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS',
  21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S',
  29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE',
};

/** llama_ftype's value for a file made as `name` ("F16", "Q8_0", ...). */
export function fileTypeId(name: string): number | undefined {
  const found = Object.entries(FILE_TYPES).find(([, n]) => n === name);
  return found && Number(found[0]);
}

/** The type the file was made as (general.file_type), or null when the header does not say. */
export function ggufFileType(header: GgufHeader): string | null {
  const v = header.metadata.get('general.file_type');
  if (!v || v.type === 'array' || v.type === 'string' || v.type === 'bool') return null;
  return FILE_TYPES[Number(v.value)] ?? null;
}

/** How many matrices (2-D tensors) the file stores in each ggml type; vectors are always F32. */
export function matrixTypeCounts(header: GgufHeader): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of header.tensors) if (t.dims.length === 2) counts[t.type] = (counts[t.type] ?? 0) + 1;
  return counts;
}

/** { Q4_K: 154, Q6_K: 29 } -> "Q4_K × 154, Q6_K × 29", the most used first. */
export function describeTypeCounts(counts: Partial<Record<string, number>>): string {
  return Object.entries(counts)
    .filter((e): e is [string, number] => (e[1] ?? 0) > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([t, n]) => `${t} × ${n}`)
    .join(', ');
}
