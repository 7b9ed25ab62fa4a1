// Writes safetensors as the reference writer does: u64 header length, JSON header padded with
// spaces to a multiple of 8, tensors contiguous from offset 0 in the order given.

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8';
  shape: number[];
  /** Little-endian bytes, exactly numel * itemsize. */
  data: Uint8Array;
}

const ITEM_BYTES = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 } as const;

export function writeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const expected = numel * ITEM_BYTES[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new Error(`tensor "${t.name}": ${t.data.byteLength} bytes given, shape [${t.shape}] of ${t.dtype} needs ${expected}`);
    }
    if (t.name in header) throw new Error(`tensor "${t.name}" is listed twice`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = JSON.stringify(header);
  const jsonBytes = new TextEncoder().encode(json);
  const pad = (8 - (jsonBytes.byteLength % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}
