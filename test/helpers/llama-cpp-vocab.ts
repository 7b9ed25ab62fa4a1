// llama.cpp's own tokenizer (node-llama-cpp's prebuilt, design/TESTING.md) over a GGUF file's
// vocabulary: the oracle tabtune's tokenizer is compared with. The file needs only the tokenizer
// metadata and the architecture's hyperparameters, no tensors (the model is loaded vocab-only).

import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel, type Token } from 'node-llama-cpp';
import { type GgufValue, writeGguf } from '../../src/formats/gguf.ts';
import { tempDir } from './cli.ts';

let llama: Promise<Llama> | null = null;

function sharedLlama(): Promise<Llama> {
  // Loading vocab-only makes node-llama-cpp's resource simulator fail and log an error before it
  // falls back; a real failure still throws from loadModel.
  llama ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.disabled });
  return llama;
}

/** Frees llama.cpp (call once the file's tests are done). */
export async function closeLlamaCpp(): Promise<void> {
  const l = llama;
  llama = null;
  if (l) await (await l).dispose();
}

/** The hyperparameters llama.cpp reads for a "llama" model before it reads the vocabulary. */
export function tinyLlamaHparams(): [string, GgufValue][] {
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  return [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['llama.block_count', u32(1)],
    ['llama.context_length', u32(256)],
    ['llama.embedding_length', u32(64)],
    ['llama.feed_forward_length', u32(128)],
    ['llama.attention.head_count', u32(2)],
    ['llama.attention.head_count_kv', u32(2)],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['llama.rope.freq_base', { type: 'f32', value: 10000 }],
  ];
}

export interface LlamaCppVocab {
  /** llama_tokenize(text, add_special, parse_special = true). */
  tokenize(text: string, addSpecial: boolean): number[];
  /** llama_detokenize with special tokens written out as their text. */
  detokenize(ids: number[]): string;
  bos: number | null;
  eos: number | null;
  dispose(): Promise<void>;
}

/** Writes a vocab-only GGUF with `tokenizerMetadata` and loads it into llama.cpp. */
export async function llamaCppVocab(tokenizerMetadata: [string, GgufValue][]): Promise<LlamaCppVocab & { bytes: Uint8Array }> {
  const bytes = writeGguf([...tinyLlamaHparams(), ...tokenizerMetadata], []);
  const dir = await tempDir('tabtune-vocab-');
  const path = join(dir, 'vocab.gguf');
  await writeFile(path, bytes);
  const model: LlamaModel = await (await sharedLlama()).loadModel({ modelPath: path, vocabOnly: true });
  const t = model.tokens;
  return {
    bytes,
    bos: t.bos,
    eos: t.eos,
    // node-llama-cpp tokenizes with add_special = false; llama.cpp's add_special adds BOS and EOS
    // around exactly that, as the vocabulary's add_bos / add_eos say.
    tokenize(text, addSpecial) {
      const ids = model.tokenize(text, true).map(Number);
      if (!addSpecial) return ids;
      // node-llama-cpp reports BOS / EOS only when they are control tokens.
      if ((t.shouldPrependBosToken && t.bos === null) || (t.shouldAppendEosToken && t.eos === null)) {
        throw new Error('llama.cpp adds a BOS or EOS that is not a control token; node-llama-cpp does not say which');
      }
      return [...(t.shouldPrependBosToken ? [Number(t.bos)] : []), ...ids, ...(t.shouldAppendEosToken ? [Number(t.eos)] : [])];
    },
    detokenize: (ids) => model.detokenize(ids as Token[], true),
    async dispose() {
      await model.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
