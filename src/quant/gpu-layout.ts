// ggml's quant blocks as the GPU reads them. WGSL reads storage in u32 words, and a block of 18, 22,
// 34, 110 or 210 bytes leaves its fields off word boundaries, so blocks are repacked on upload:
// - Q4_0, Q5_0, Q8_0: two zero bytes after the f16 scale, so the quants start on a word;
// - Q6_K: two zero bytes at the end, so the next block starts on a word;
// - Q3_K, Q4_K, Q5_K: the 6-bit sub-block scales (and mins), which ggml packs 16 into 12 bytes, get a
//   byte each (Q4_K/Q5_K: scale and min of sub-block s side by side, so one word load fetches both).
//   Decoding them in the kernel took up to 4 word loads per sub-block; on llvmpipe, where each
//   storage load is a loop over the SIMD lanes, that was ~40% of the input-gradient matmul's time.
//   Q3_K also gets two zero bytes at the end.
// - Q4_1, Q5_1, Q2_K: already whole words, uploaded as they are.
// Every bit is kept (the unpacked scale bytes' top two bits are zero): unpackFromGpu restores ggml's
// bytes exactly. The byte maps below are the shaders' (shaders/weights_q*.wgsl) layouts.
// Dimension key: R = rows, C = columns (weights per row, a multiple of the block size).
// ggml bytes: [R, C / blockSize] blocks of blockBytes   GPU bytes: [R, C / blockSize] blocks of gpuBlockBytes

import { type QuantType, typeInfo } from './ggml-types.ts';

/** Both sides of a repack: bytes, and 16- / 32-bit views of them where their offsets allow. */
interface Sides {
  g: Uint8Array; // ggml's blocks
  u: Uint8Array; // the GPU layout
  g16: Uint16Array | null;
  u16: Uint16Array | null;
  g32: Uint32Array | null;
  u32: Uint32Array | null;
}

function sides(g: Uint8Array, u: Uint8Array): Sides {
  const view = <T>(a: Uint8Array, w: number, make: (b: ArrayBufferLike, o: number, n: number) => T): T | null =>
    a.byteOffset % w === 0 ? make(a.buffer, a.byteOffset, Math.floor(a.byteLength / w)) : null;
  return {
    g,
    u,
    g16: view(g, 2, (b, o, n) => new Uint16Array(b, o, n)),
    u16: view(u, 2, (b, o, n) => new Uint16Array(b, o, n)),
    g32: view(g, 4, (b, o, n) => new Uint32Array(b, o, n)),
    u32: view(u, 4, (b, o, n) => new Uint32Array(b, o, n)),
  };
}

/** Moves one block between ggml's bytes (at gi) and the GPU layout (at ui), one way or the other. */
type BlockMove = (s: Sides, gi: number, ui: number, toGpu: boolean) => void;

interface Layout {
  gpuBytes: number;
  /** null: the GPU layout is ggml's own. */
  move: BlockMove | null;
}

/** n bytes, in the widest units both offsets allow (a repack is mostly copies: this makes it several times faster). */
function copy(s: Sides, gi: number, ui: number, n: number, toGpu: boolean): void {
  if (s.g32 && s.u32 && (gi | ui | n) % 4 === 0) move32(s.g32, gi >> 2, s.u32, ui >> 2, n >> 2, toGpu);
  else if (s.g16 && s.u16 && (gi | ui | n) % 2 === 0) move16(s.g16, gi >> 1, s.u16, ui >> 1, n >> 1, toGpu);
  else move8(s.g, gi, s.u, ui, n, toGpu);
}

// One function per element type, so that each stays monomorphic (and fast) in the JIT.
function move8(g: Uint8Array, gi: number, u: Uint8Array, ui: number, n: number, toGpu: boolean): void {
  if (toGpu) for (let j = 0; j < n; j++) u[ui + j] = g[gi + j]!;
  else for (let j = 0; j < n; j++) g[gi + j] = u[ui + j]!;
}

function move16(g: Uint16Array, gi: number, u: Uint16Array, ui: number, n: number, toGpu: boolean): void {
  if (toGpu) for (let j = 0; j < n; j++) u[ui + j] = g[gi + j]!;
  else for (let j = 0; j < n; j++) g[gi + j] = u[ui + j]!;
}

function move32(g: Uint32Array, gi: number, u: Uint32Array, ui: number, n: number, toGpu: boolean): void {
  if (toGpu) for (let j = 0; j < n; j++) u[ui + j] = g[gi + j]!;
  else for (let j = 0; j < n; j++) g[gi + j] = u[ui + j]!;
}

/** The f16 scale (2 bytes), 2 zero bytes, the rest of the block. */
const padAfterScale = (rest: number): BlockMove => (s, gi, ui, toGpu) => {
  copy(s, gi, ui, 2, toGpu);
  copy(s, gi + 2, ui + 4, rest, toGpu);
};

/**
 * Q4_K/Q5_K's scales[12] (ggml's get_scale_min_k4 packing of 8 scales and 8 mins, 6 bits each) as
 * 16 bytes: scale s at byte 2s, min s at byte 2s + 1.
 */
function kScalesMins({ g, u }: Sides, gi: number, ui: number, toGpu: boolean): void {
  if (toGpu) {
    for (let j = 0; j < 4; j++) {
      u[ui + 2 * j] = g[gi + j]! & 63;
      u[ui + 2 * j + 1] = g[gi + j + 4]! & 63;
      u[ui + 2 * j + 8] = (g[gi + j + 8]! & 15) | ((g[gi + j]! >> 6) << 4);
      u[ui + 2 * j + 9] = (g[gi + j + 8]! >> 4) | ((g[gi + j + 4]! >> 6) << 4);
    }
  } else {
    for (let j = 0; j < 4; j++) {
      const [sc, m, sc4, m4] = [u[ui + 2 * j]!, u[ui + 2 * j + 1]!, u[ui + 2 * j + 8]!, u[ui + 2 * j + 9]!];
      g[gi + j] = sc | ((sc4 >> 4) << 6);
      g[gi + j + 4] = m | ((m4 >> 4) << 6);
      g[gi + j + 8] = (sc4 & 15) | ((m4 & 15) << 4);
    }
  }
}

/**
 * Q3_K's scales[12] (16 scales of 6 bits: low nibbles in bytes 0-7, the high nibble for s >= 8; top
 * 2 bits at 2 (s / 4) of byte 8 + s % 4) as 16 bytes, scale s at byte s.
 */
function q3Scales({ g, u }: Sides, gi: number, ui: number, toGpu: boolean): void {
  if (toGpu) {
    for (let s = 0; s < 16; s++) {
      const lo = (g[gi + (s % 8)]! >> (4 * (s >> 3))) & 15;
      const hi = (g[gi + 8 + (s % 4)]! >> (2 * (s >> 2))) & 3;
      u[ui + s] = lo | (hi << 4);
    }
  } else {
    for (let j = 0; j < 12; j++) g[gi + j] = 0;
    for (let s = 0; s < 16; s++) {
      const v = u[ui + s]!;
      g[gi + (s % 8)] = g[gi + (s % 8)]! | ((v & 15) << (4 * (s >> 3)));
      g[gi + 8 + (s % 4)] = g[gi + 8 + (s % 4)]! | ((v >> 4) << (2 * (s >> 2)));
    }
  }
}

const LAYOUTS: Record<QuantType, Layout> = {
  // f16 d | pad | qs[16]
  Q4_0: { gpuBytes: 20, move: padAfterScale(16) },
  // f16 d, f16 m | qs[16]
  Q4_1: { gpuBytes: 20, move: null },
  // f16 d | pad | qh[4] | qs[16]
  Q5_0: { gpuBytes: 24, move: padAfterScale(20) },
  // f16 d, f16 m | qh[4] | qs[16]
  Q5_1: { gpuBytes: 24, move: null },
  // f16 d | pad | qs[32] int8
  Q8_0: { gpuBytes: 36, move: padAfterScale(32) },
  // scales[16] | qs[64] | f16 d, f16 dmin
  Q2_K: { gpuBytes: 84, move: null },
  // hmask[32] | qs[64] | scale[16] (6 bits each) | f16 d | pad
  Q3_K: {
    gpuBytes: 116,
    move: (s, gi, ui, toGpu) => {
      copy(s, gi, ui, 96, toGpu);
      q3Scales(s, gi + 96, ui + 96, toGpu);
      copy(s, gi + 108, ui + 112, 2, toGpu);
    },
  },
  // f16 d, f16 dmin | (scale, min)[8] (6 bits each) | qs[128]
  Q4_K: {
    gpuBytes: 148,
    move: (s, gi, ui, toGpu) => {
      copy(s, gi, ui, 4, toGpu);
      kScalesMins(s, gi + 4, ui + 4, toGpu);
      copy(s, gi + 16, ui + 20, 128, toGpu);
    },
  },
  // f16 d, f16 dmin | (scale, min)[8] (6 bits each) | qh[32] | qs[128]
  Q5_K: {
    gpuBytes: 180,
    move: (s, gi, ui, toGpu) => {
      copy(s, gi, ui, 4, toGpu);
      kScalesMins(s, gi + 4, ui + 4, toGpu);
      copy(s, gi + 16, ui + 20, 160, toGpu);
    },
  },
  // ql[128] | qh[64] | scales[16] int8 | f16 d | pad
  Q6_K: { gpuBytes: 212, move: (s, gi, ui, toGpu) => copy(s, gi, ui, 210, toGpu) },
};

/** Bytes of one block on the GPU (a multiple of 4). */
export function gpuBlockBytes(type: QuantType): number {
  return LAYOUTS[type].gpuBytes;
}

function blockCount(type: QuantType, rows: number, cols: number, bytes: number, perBlock: number, what: string): number {
  const { blockSize } = typeInfo(type);
  if (cols % blockSize !== 0) throw new Error(`${type}: a row of ${cols} weights is not a whole number of ${blockSize}-weight blocks`);
  const blocks = (rows * cols) / blockSize;
  if (bytes !== blocks * perBlock) throw new Error(`${type}: ${bytes} ${what} given, [${rows}, ${cols}] needs ${blocks * perBlock}`);
  return blocks;
}

/**
 * ggml's block bytes of a [rows, cols] matrix, repacked block by block into the GPU layout. Types
 * whose layout is ggml's own return `bytes` itself (no copy).
 */
export function repackForGpu(type: QuantType, bytes: Uint8Array, rows: number, cols: number): Uint8Array {
  const src = typeInfo(type).blockBytes;
  const blocks = blockCount(type, rows, cols, bytes.byteLength, src, 'bytes');
  const { gpuBytes, move } = LAYOUTS[type];
  if (!move) return bytes;
  const out = new Uint8Array(blocks * gpuBytes);
  const s = sides(bytes, out);
  for (let b = 0; b < blocks; b++) move(s, b * src, b * gpuBytes, true);
  return out;
}

/** The inverse of repackForGpu: the GPU layout back to ggml's bytes. */
export function unpackFromGpu(type: QuantType, bytes: Uint8Array, rows: number, cols: number): Uint8Array {
  const { gpuBytes, move } = LAYOUTS[type];
  const blocks = blockCount(type, rows, cols, bytes.byteLength, gpuBytes, 'GPU bytes');
  if (!move) return bytes;
  const dst = typeInfo(type).blockBytes;
  const out = new Uint8Array(blocks * dst);
  const s = sides(out, bytes);
  for (let b = 0; b < blocks; b++) move(s, b * dst, b * gpuBytes, false);
  return out;
}
