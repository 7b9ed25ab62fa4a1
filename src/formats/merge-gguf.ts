// A GGUF base with a LoRA merged in, written as one GGUF file that llama.cpp and Ollama load, one
// tensor at a time. The base's metadata (tokenizer, chat template) is kept; tensors the adapter does
// not touch keep their type and bytes; adapted ones are dequantized, merged in f32 on the GPU
// (W' = W + scaling * B A in the Hugging Face row order), permuted back to llama.cpp's rotary order
// for llama's q/k, and encoded as the base tensor's own type ('same'), F16 or Q8_0.

import type { Gpu } from '../gpu/device.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import { isQuantType, typeInfo, type GgmlType } from '../quant/ggml-types.ts';
import { quantizeRows } from '../quant/quantize.ts';
import type { ModelFiles } from './byte-source.ts';
import { openCheckpoint } from './checkpoint.ts';
import { fromFloat32, type FloatDtype } from './dtype.ts';
import { FormatError } from './errors.ts';
import { type GgufTensorSpec, type GgufValue, ggufHeaderBytes, ggufPadding, tensorBytes } from './gguf.ts';
import { permuteRotaryRows } from './gguf-lora.ts';
import { fileTypeId } from './gguf-quant.ts';
import { hfName, openGgufModel } from './gguf-model.ts';
import { matchLora, mergedF32, type StreamedFile } from './merge.ts';

/** What adapted tensors are written as. */
export type MergedGgufType = 'same' | 'F16' | 'Q8_0';

export async function mergedGgufFile(
  gpu: Gpu,
  base: ModelFiles,
  lora: LoraWeights,
  opts: { name?: string; type?: MergedGgufType; onProgress?: (done: number, total: number) => void } = {},
): Promise<StreamedFile> {
  if (!base.gguf) throw new FormatError(base.name, 'is not a GGUF model; merging into a GGUF file needs a GGUF base (merge to a Hugging Face folder instead)');
  const model = await openGgufModel(await base.gguf());
  const ckpt = await openCheckpoint(base);
  const byWeight = matchLora(ckpt.tensors, lora);
  const want = opts.type ?? 'same';
  const { header } = model;

  const specs: (GgufTensorSpec & { hf: string | null; size: number })[] = header.tensors.map((t) => {
    const hf = hfName(t.name, model.architecture);
    const adapted = hf !== null && byWeight.has(hf);
    let type: GgmlType = t.type;
    if (adapted && want !== 'same') type = want === 'Q8_0' && t.dims.at(-1)! % typeInfo('Q8_0').blockSize !== 0 ? 'F16' : want;
    return { name: t.name, dims: t.dims, type, hf: adapted ? hf : null, size: tensorBytes(type, t.dims)! };
  });
  const metadata: [string, GgufValue][] = [...header.metadata].filter(([k]) => k !== 'general.alignment');
  // general.file_type names what the file was made as: it changes when every quantized matrix was merged.
  const ft = metadata.findIndex(([k]) => k === 'general.file_type');
  if (want !== 'same' && ft >= 0 && specs.every((s, i) => !isQuantType(header.tensors[i]!.type) || s.hf !== null)) {
    metadata[ft] = ['general.file_type', { type: 'u32', value: fileTypeId(want)! }];
  }
  const head = ggufHeaderBytes(metadata, specs, header.alignment);
  const total = specs.reduce((n, s) => n + s.size, 0);

  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield head;
    let done = 0;
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      const src = header.tensors[i]!;
      let bytes: Uint8Array;
      if (spec.hf === null) {
        bytes = await model.source.read(src.offset, src.size); // untouched: the same bytes
      } else {
        const t = ckpt.tensors.get(spec.hf)!;
        const [rows, cols] = t.shape as [number, number];
        let w = await mergedF32(gpu, t, byWeight.get(spec.hf)!);
        if (t.rotaryHeads) w = permuteRotaryRows(w, rows, cols, t.rotaryHeads);
        bytes = isQuantType(spec.type) ? quantizeRows(spec.type, w, rows, cols) : fromFloat32(spec.type as FloatDtype, w);
      }
      yield bytes;
      yield ggufPadding(bytes.byteLength, header.alignment);
      done += spec.size;
      opts.onProgress?.(done, total);
    }
  }
  return { name: opts.name ?? 'model.gguf', chunks: chunks() };
}
