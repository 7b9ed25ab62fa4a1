// After full fine-tuning: the trained weights as a Hugging Face model folder (F32 safetensors,
// with the base model's config and tokenizer files), which tabtune and transformers load.

import type { ModelFiles } from '../formats/byte-source.ts';
import { writeSafetensors } from '../formats/safetensors-write.ts';
import { readF32 } from '../gpu/recorder.ts';
import type { LoadedModel } from '../model/model.ts';
import { isNormWeight, modelParams } from '../model/params.ts';
import type { Trainable } from './trainable.ts';

const COPIED = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'chat_template.jinja'];

export async function readFullWeights(model: LoadedModel, t: Trainable, files: ModelFiles): Promise<Map<string, Uint8Array>> {
  const byName = new Map(t.tensors.map((x) => [x.name, x]));
  const tensors = [];
  for (const spec of modelParams(model.cfg)) {
    const x = byName.get(spec.name)!;
    const data = await readF32(model.gpu, x.param, 0, x.n);
    // The GPU holds Gemma's norms as 1 + w (model/weights.ts); the file stores w.
    if (model.cfg.normOffset !== 0 && isNormWeight(spec.name)) for (let i = 0; i < data.length; i++) data[i]! -= model.cfg.normOffset;
    tensors.push({ name: spec.name, dtype: 'F32' as const, shape: spec.shape, data: new Uint8Array(data.buffer) });
  }
  const out = new Map<string, Uint8Array>();
  for (const f of COPIED) {
    const src = await files.get(f);
    if (src) out.set(f, await src.read(0, src.size));
  }
  out.set('model.safetensors', writeSafetensors(tensors));
  return out;
}
