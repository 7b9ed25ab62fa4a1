// Converts a Hugging Face model folder (a generated test model) into a GGUF model file the way
// llama.cpp's convert_hf_to_gguf.py and llama-quantize do: llama.cpp's metadata keys and tensor
// names, llama's q/k rows permuted into its rotary layout, Llama 3 RoPE scaling as rope_freqs.weight,
// and block formats made by ggml's own quantizer (through koffi). Tests load the result and compare
// it with the folder it came from, and hand it to llama.cpp itself.

import { memoryFiles } from '../../src/formats/byte-source.ts';
import { openCheckpoint, readTensorBytes } from '../../src/formats/checkpoint.ts';
import { fromFloat32, toFloat32, type FloatDtype } from '../../src/formats/dtype.ts';
import { type GgufTensor, type GgufValue, writeGguf } from '../../src/formats/gguf.ts';
import { permuteRotaryRows } from '../../src/formats/gguf-lora.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { ropeInvFreq } from '../../src/model/rope-freqs.ts';
import { type GgmlType, isQuantType, typeInfo } from '../../src/quant/ggml-types.ts';
import { ggmlQuantize } from './ggml.ts';

export interface GgufConversion {
  /** Type of each 2-D tensor by its GGUF name (default F32); 1-D tensors stay F32 as llama.cpp keeps them. */
  typeOf?: (ggufName: string, dims: number[]) => GgmlType;
  /** Tokenizer metadata (tokenizer.ggml.*) to include; none by default. */
  tokenizer?: [string, GgufValue][];
  version?: 2 | 3;
}

const LAYER: Record<string, string> = {
  input_layernorm: 'attn_norm',
  post_attention_layernorm: 'ffn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'self_attn.q_norm': 'attn_q_norm',
  'self_attn.k_norm': 'attn_k_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};
const GLOBAL: Record<string, string> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

/** Gemma 3 (llama.cpp's "gemma3"): four norms per layer, named differently from Llama's two. */
const GEMMA3_LAYER: Record<string, string> = {
  ...LAYER,
  post_attention_layernorm: 'post_attention_norm',
  pre_feedforward_layernorm: 'ffn_norm',
  post_feedforward_layernorm: 'post_ffw_norm',
};

export function ggufName(hf: string, arch = 'llama'): string {
  if (GLOBAL[hf]) return GLOBAL[hf];
  const layer = arch === 'gemma3' ? GEMMA3_LAYER : LAYER;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hf);
  if (!m || !layer[m[2]!]) throw new Error(`no GGUF name for ${hf}`);
  return `blk.${m[1]}.${layer[m[2]!]}.${m[3]}`;
}

const u32 = (value: number): GgufValue => ({ type: 'u32', value });
const f32 = (value: number): GgufValue => ({ type: 'f32', value });
const str = (value: string): GgufValue => ({ type: 'string', value });

export async function hfFolderToGguf(folder: Map<string, Uint8Array>, o: GgufConversion = {}): Promise<Uint8Array> {
  const cfg = parseModelConfig(new TextDecoder().decode(folder.get('config.json')!));
  const arch = cfg.architecture === 'mistral' ? 'llama' : cfg.architecture;
  const k = (key: string) => `${arch}.${key}`;
  const metadata: [string, GgufValue][] = [
    ['general.architecture', str(arch)],
    ['general.name', str('tabtune test model')],
    ['general.file_type', u32(1)],
    [k('vocab_size'), u32(cfg.vocabSize)],
    [k('context_length'), u32(cfg.maxPositionEmbeddings)],
    [k('embedding_length'), u32(cfg.hiddenSize)],
    [k('feed_forward_length'), u32(cfg.intermediateSize)],
    [k('block_count'), u32(cfg.numLayers)],
    [k('attention.head_count'), u32(cfg.numHeads)],
    [k('attention.head_count_kv'), u32(cfg.numKvHeads)],
    [k('attention.key_length'), u32(cfg.headDim)],
    [k('attention.value_length'), u32(cfg.headDim)],
    [k('rope.dimension_count'), u32(cfg.headDim)],
    [k('rope.freq_base'), f32(cfg.ropeTheta)],
    [k('attention.layer_norm_rms_epsilon'), f32(cfg.rmsNormEps)],
    ...(cfg.architecture === 'gemma3' && cfg.slidingWindow !== null ? [[k('attention.sliding_window'), u32(cfg.slidingWindow)] as [string, GgufValue]] : []),
    ...(cfg.ropeScaling.type === 'linear' ? [[k('rope.scaling.type'), str('linear')], [k('rope.scaling.factor'), f32(cfg.ropeScaling.factor)]] as [string, GgufValue][] : []),
    ...(o.tokenizer ?? []),
  ];
  const tensors: GgufTensor[] = [];
  if (cfg.ropeScaling.type === 'llama3') {
    // convert_hf_to_gguf stores Llama 3 scaling as one divisor per rotary pair.
    const plain = ropeInvFreq({ ...cfg, ropeScaling: { type: 'default' } });
    const scaled = ropeInvFreq(cfg);
    const factors = Float32Array.from(plain, (f, j) => f / scaled[j]!);
    tensors.push({ name: 'rope_freqs.weight', dims: [factors.length], type: 'F32', data: new Uint8Array(factors.buffer) });
  }
  const ckpt = await openCheckpoint(memoryFiles('hf', folder));
  for (const t of ckpt.tensors.values()) {
    let values = toFloat32(t.dtype as FloatDtype, await readTensorBytes(t));
    const rows = t.shape[0]!;
    if (arch === 'llama' && /self_attn\.[qk]_proj\./.test(t.name)) {
      const heads = t.name.includes('q_proj') ? cfg.numHeads : cfg.numKvHeads;
      values = permuteRotaryRows(values, rows, values.length / rows, heads);
    }
    // convert_hf_to_gguf's Gemma: norm weights stored as 1 + w (llama.cpp's RMSNorm multiplies by w).
    if (arch === 'gemma3' && /norm\.weight$/.test(t.name)) values = values.map((x) => x + 1);
    const name = ggufName(t.name, arch);
    const type: GgmlType = t.shape.length === 2 ? (o.typeOf?.(name, t.shape) ?? 'F32') : 'F32';
    const cols = t.shape.at(-1)!;
    const data = isQuantType(type) ? ggmlQuantize(type, values, values.length / cols, cols) : fromFloat32(type as FloatDtype, values);
    if (isQuantType(type) && cols % typeInfo(type).blockSize !== 0) throw new Error(`${name}: ${cols} columns are not whole ${type} blocks`);
    tensors.push({ name, dims: t.shape, type, data });
  }
  const bytes = writeGguf(metadata, tensors);
  if (o.version === 2) new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, 2, true);
  return bytes;
}
