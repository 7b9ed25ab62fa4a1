// tabtune grads: the gradient of exactly the loss `tabtune eval` reports (mean over every target
// token, dropout off) with respect to every lora_A and lora_B of an adapter, as F32 safetensors.

import { readPeftAdapter } from '../../formats/peft.ts';
import { writeSafetensors } from '../../formats/safetensors-write.ts';
import { datasetGradients, readLoraGrads } from '../../train/gradients.ts';
import { loraTrainable } from '../../train/trainable.ts';
import { num, optionalString, parse, required } from '../args.ts';
import { resolveFiles } from '../model-source.ts';
import { checkInputFile, checkOutFile, writeFileAtomic } from '../output.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, withModel } from '../session.ts';
import { DATA_FLAGS, dataSettings, prepareFile } from '../dataset.ts';

export const GRADS_HELP = `tabtune grads --model DIR --adapter DIR --data FILE --out FILE [--seq-len N] [--batch-size B] [--json]
  Writes d(eval loss)/d(lora_A, lora_B) for every adapted module as F32 safetensors, under the
  adapter's own tensor names. The loss is the one \`tabtune eval\` reports (dropout off).
${MODEL_FLAGS_HELP}`;

export async function gradsCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { ...MODEL_FLAGS, ...DATA_FLAGS, data: { type: 'string' }, out: { type: 'string' }, 'seq-len': { type: 'string' }, 'batch-size': { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) {
    console.log(GRADS_HELP);
    return 0;
  }
  const dataPath = required(v, 'data');
  const out = required(v, 'out');
  const adapterDir = required(v, 'adapter');
  const seqLen = num(v, 'seq-len', Infinity, { int: true, min: 2 });
  const batchSize = num(v, 'batch-size', 8, { int: true, min: 1, max: 4096 });
  const settings = dataSettings(v);
  const adapterFiles = resolveFiles(adapterDir, '--adapter', { hubBase: optionalString(v, 'hub-base'), revision: optionalString(v, 'revision') });
  await checkInputFile(dataPath, '--data');
  await checkOutFile(out, [dataPath]);
  await withModel(
    v,
    async (model, files) => {
      const rows = (await prepareFile(dataPath, model, files, settings, Math.min(seqLen, model.maxPositions))).rows;
      const { weights } = await readPeftAdapter(adapterFiles, model.cfg);
      const trainable = loraTrainable(model.gpu, weights);
      const result = await datasetGradients(model, trainable, rows, { seqLen: Math.min(seqLen, model.maxPositions), batchSize });
      const grads = await readLoraGrads(model, trainable, weights);
      const tensors = [];
      for (const [name, g] of grads) {
        const s = weights.modules.get(name)!;
        tensors.push({ name: `base_model.model.${name}.lora_A.weight`, dtype: 'F32' as const, shape: [s.rank, s.inFeatures], data: new Uint8Array(g.a.buffer) });
        tensors.push({ name: `base_model.model.${name}.lora_B.weight`, dtype: 'F32' as const, shape: [s.outFeatures, s.rank], data: new Uint8Array(g.b.buffer) });
      }
      await writeFileAtomic(out, writeSafetensors(tensors));
      console.log(v.json ? JSON.stringify({ loss: result.loss, tokens: result.tokens, tensors: tensors.length }) : `wrote ${tensors.length} gradient tensors to ${out} (loss ${result.loss.toFixed(6)} over ${result.tokens} tokens)`);
    },
    { applyAdapter: false },
  );
  return 0;
}
