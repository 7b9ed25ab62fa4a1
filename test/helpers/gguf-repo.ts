// A hub repo of GGUF files laid out as the big uploaders do: one model converted to several types,
// each named for its type ("tiny-Q8_0.gguf"), with the original model's tokenizer files beside them.
// Written to a folder that startHubServer (hub-server.ts) serves.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import type { GgmlType } from '../../src/quant/ggml-types.ts';
import { hfFolderToGguf } from './gguf-model.ts';
import { ggufTokenizerMetadata } from './gguf-tokenizer-meta.ts';

/**
 * Big enough (about 1.4 M weights) that every type's file is over the 1 MiB a header read fetches
 * first, so reading only the header reads less than the file.
 */
export const REPO_MODEL: TestModelOptions = { architecture: 'llama', seed: 21, dtype: 'F32', hiddenSize: 256, intermediateSize: 512, numLayers: 2, numHeads: 4, numKvHeads: 2 };

export interface GgufRepo {
  dir: string;
  /** The Hugging Face folder the GGUFs were converted from. */
  hf: Map<string, Uint8Array>;
  /** Each GGUF by its path in the repo. */
  ggufs: Map<string, Uint8Array>;
}

/**
 * Every matrix in `type` (llama-quantize's pure mode), vectors in F32. `withTokenizer`: the test
 * tokenizer in the metadata too (a byte-level BPE with GPT-2's pre-tokenizer), so the file loads alone.
 */
export function ggufOf(hf: Map<string, Uint8Array>, type: GgmlType, withTokenizer = false): Promise<Uint8Array> {
  const json = (name: string) => JSON.parse(new TextDecoder().decode(hf.get(name)!)) as Record<string, unknown>;
  const tokenizer = withTokenizer ? ggufTokenizerMetadata(json('tokenizer.json'), json('tokenizer_config.json'), 'gpt-2') : undefined;
  return hfFolderToGguf(hf, { typeOf: () => type, ...(tokenizer ? { tokenizer } : {}) });
}

/** Writes `dir` with one GGUF per `files` entry (path -> type) and the tokenizer files at the root. */
export async function writeGgufRepo(dir: string, files: Record<string, GgmlType>, model: TestModelOptions = REPO_MODEL): Promise<GgufRepo> {
  const hf = makeTestModel(model);
  const ggufs = new Map<string, Uint8Array>();
  for (const [path, type] of Object.entries(files)) {
    const bytes = await ggufOf(hf, type);
    ggufs.set(path, bytes);
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  for (const [name, bytes] of hf) if (name.startsWith('tokenizer')) await writeFile(join(dir, name), bytes);
  return { dir, hf, ggufs };
}

/** A copy of a GGUF whose tensor `name` claims ggml type `typeId` (an IQ type, say). */
export function withTensorType(gguf: Uint8Array, name: string, typeId: number): Uint8Array {
  const out = gguf.slice();
  const key = new TextEncoder().encode(name);
  const view = new DataView(out.buffer);
  for (let i = 8; i + key.length < out.length; i++) {
    if (view.getBigUint64(i - 8, true) !== BigInt(key.length) || !key.every((b, j) => out[i + j] === b)) continue;
    let at = i + key.length;
    const dims = view.getUint32(at, true);
    if (dims < 1 || dims > 4) continue;
    at += 4 + 8 * dims;
    view.setUint32(at, typeId, true);
    return out;
  }
  throw new Error(`tensor ${name} not found in the GGUF header`);
}
