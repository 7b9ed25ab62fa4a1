// Pretrains the bundled demo model with tabtune's own engine (full-parameter training, f32 master
// weights), on the King James Bible (public domain), and writes it as a Hugging Face folder in bf16.
//
//   apt-get download bible-kjv bible-kjv-text && dpkg -x bible-kjv_*.deb kjv && dpkg -x bible-kjv-text_*.deb kjv
//   kjv/usr/bin/bible -f -p kjv/usr/lib gen1:1-rev22:21 | sed 's/^[^ ]* //' > kjv.txt
//   node --import ./bin/register.mjs scripts/pretrain-demo.ts kjv.txt public/models/kjv-llama [steps]
//
// Everything that shapes the result is fixed here (sizes, seed, schedule), so the run repeats.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { memoryFiles } from '../src/formats/byte-source.ts';
import { fromFloat32, toFloat32 } from '../src/formats/dtype.ts';
import { bytesSource } from '../src/formats/byte-source.ts';
import { readSafetensorsHeader } from '../src/formats/safetensors.ts';
import { writeSafetensors } from '../src/formats/safetensors-write.ts';
import { createNodeGpu } from '../src/gpu/node-gpu.ts';
import { loadModel } from '../src/model/model.ts';
import { makeTestModel } from '../src/model/test-model.ts';
import { readFullWeights } from '../src/train/full-export.ts';
import { fullTrainable } from '../src/train/trainable.ts';
import { DEFAULT_TRAIN, train } from '../src/train/trainer.ts';

export const RECIPE = {
  architecture: 'llama' as const,
  seed: 2026,
  hiddenSize: 128,
  intermediateSize: 320,
  numLayers: 3,
  numHeads: 4,
  numKvHeads: 2,
  tied: true,
  maxPositionEmbeddings: 256,
  merges: 765, // 3 specials + 256 bytes + 765 merges = 1024 ids
  seqLen: 128,
  batchSize: 16,
  lr: 3e-3,
  warmup: 50,
  weightDecay: 0.1,
};

async function main(): Promise<void> {
  const [corpusPath, out, stepsArg] = process.argv.slice(2);
  if (!corpusPath || !out) throw new Error('usage: pretrain-demo.ts CORPUS.txt OUT_DIR [steps]');
  const steps = Number(stepsArg ?? 2000);
  const text = (await readFile(corpusPath, 'utf8')).replace(/\r/g, '');
  const t0 = Date.now();
  const files = makeTestModel({ ...RECIPE, dtype: 'F32', corpus: text, init: 'pretrain' });
  console.error(`tokenizer trained in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const gpu = await createNodeGpu();
  const model = await loadModel(gpu, memoryFiles('kjv-llama', files), { precision: 'f32' });
  // One stream of verses, each ending with the end-of-text id, cut into rows of seqLen tokens.
  const verses = text.split('\n').filter((l) => l.trim());
  const stream: number[] = [];
  for (const v of verses) stream.push(...model.tokenizer.encode(v.trim() + '\n', { addSpecialTokens: false }));
  const rows = [];
  for (let i = 0; i + RECIPE.seqLen <= stream.length; i += RECIPE.seqLen) rows.push({ inputIds: stream.slice(i, i + RECIPE.seqLen) });
  console.error(`${stream.length} tokens in ${rows.length} rows of ${RECIPE.seqLen}`);
  const val = rows.filter((_, i) => i % 100 === 0).slice(0, 16);
  const trainRows = rows.filter((_, i) => i % 100 !== 0);
  const t = fullTrainable(gpu, model.weights);
  const result = await train(model, t, trainRows, val, {
    ...DEFAULT_TRAIN,
    lr: RECIPE.lr,
    steps,
    batchSize: RECIPE.batchSize,
    gradAccum: 1,
    seqLen: RECIPE.seqLen,
    schedule: 'cosine',
    warmup: RECIPE.warmup,
    weightDecay: RECIPE.weightDecay,
    seed: RECIPE.seed,
    evalEvery: 250,
    checkpointing: true,
  }, {
    onStep: (r) => {
      if (r.step % 25 === 0 || r.step === 1) console.error(`step ${r.step}/${r.totalSteps} loss ${r.loss.toFixed(3)} ${r.tokensPerSecond.toFixed(0)} tok/s eta ${(r.etaMs / 60000).toFixed(1)} min`);
    },
    onEval: (r) => console.error(`step ${r.step}: validation loss ${r.valLoss.toFixed(3)}`),
  });
  // Write bf16: read the f32 weights back and round each once.
  const trained = await readFullWeights(model, t, memoryFiles('kjv-llama', files));
  const f32 = trained.get('model.safetensors')!;
  const header = await readSafetensorsHeader(bytesSource('model.safetensors', f32));
  const tensors = [...header.tensors.values()].map((x) => ({
    name: x.name,
    dtype: 'BF16' as const,
    shape: x.shape,
    data: fromFloat32('BF16', toFloat32('F32', f32.subarray(x.byteOffset, x.byteOffset + x.byteLength))),
  }));
  trained.set('model.safetensors', writeSafetensors(tensors));
  const config = JSON.parse(new TextDecoder().decode(trained.get('config.json')!)) as Record<string, unknown>;
  config.torch_dtype = 'bfloat16';
  trained.set('config.json', new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n'));
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of trained) await writeFile(join(out, name), bytes);
  console.log(JSON.stringify({ steps: result.steps, final_loss: result.finalLoss, val_loss: result.bestValLoss, tokens: stream.length, minutes: (Date.now() - t0) / 60000 }));
  gpu.destroy();
}

await main();
