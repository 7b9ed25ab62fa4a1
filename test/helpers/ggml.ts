// ggml's own quantizer and dequantizers, called through koffi from the libggml-base.so that ships
// inside node-llama-cpp's prebuilt (design/TESTING.md): the reference the CPU twins and the kernels
// are checked against, bit for bit.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import koffi from 'koffi';
import { typeInfo, type GgmlType } from '../../src/quant/ggml-types.ts';

const require = createRequire(import.meta.url);
// The package's main entry sits in dist/; the binaries in bins/ beside it.
const libPath = join(dirname(require.resolve('@node-llama-cpp/linux-x64')), '..', 'bins/linux-x64/libggml-base.so');
const lib = koffi.load(libPath);

const quantizeChunk = lib.func('size_t ggml_quantize_chunk(int type, const float* src, _Out_ uint8_t* dst, int64_t start, int64_t nrows, int64_t n_per_row, const float* imatrix)');
const dequantizers = new Map<string, (x: Uint8Array, y: Float32Array, k: number) => void>();

/** ggml_quantize_chunk over `rows` rows of `cols` weights, no importance matrix. */
export function ggmlQuantize(type: GgmlType, src: Float32Array, rows: number, cols: number): Uint8Array {
  const info = typeInfo(type);
  const dst = new Uint8Array((rows * cols / info.blockSize) * info.blockBytes);
  const written = Number(quantizeChunk(info.id, src, dst, 0, rows, cols, null));
  if (written !== dst.byteLength) throw new Error(`ggml wrote ${written} bytes, expected ${dst.byteLength}`);
  return dst;
}

/** ggml's dequantize_row_<type> over `n` weights. */
export function ggmlDequantize(type: GgmlType, bytes: Uint8Array, n: number): Float32Array {
  const name = type === 'F16' ? 'ggml_fp16_to_fp32_row' : type === 'BF16' ? 'ggml_bf16_to_fp32_row' : `dequantize_row_${type.toLowerCase().replace('_k', '_K')}`;
  let f = dequantizers.get(name);
  if (!f) {
    f = lib.func(`void ${name}(const uint8_t* x, _Out_ float* y, int64_t k)`) as (x: Uint8Array, y: Float32Array, k: number) => void;
    dequantizers.set(name, f);
  }
  const y = new Float32Array(n);
  f(bytes, y, n);
  return y;
}
