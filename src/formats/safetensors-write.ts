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

export type TensorEntry = Omit<TensorToWrite, 'data'>;

const numelOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Bytes of one tensor's data as written. */
export function tensorDataBytes(t: TensorEntry): number {
  return numelOf(t.shape) * ITEM_BYTES[t.dtype];
}

/**
 * The start of a safetensors file up to its first tensor byte: the u64 header length and the JSON
 * header. Written apart from the data so a large file can be streamed one tensor at a time.
 */
export function safetensorsHeader(tensors: TensorEntry[], metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    if (t.name in header) throw new Error(`tensor "${t.name}" is listed twice`);
    const bytes = tensorDataBytes(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).byteLength % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  return out;
}

export function writeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  for (const t of tensors) {
    const expected = tensorDataBytes(t);
    if (t.data.byteLength !== expected) {
      throw new Error(`tensor "${t.name}": ${t.data.byteLength} bytes given, shape [${t.shape}] of ${t.dtype} needs ${expected}`);
    }
  }
  const header = safetensorsHeader(tensors, metadata);
  const out = new Uint8Array(header.byteLength + tensors.reduce((s, t) => s + t.data.byteLength, 0));
  out.set(header, 0);
  let at = header.byteLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}
