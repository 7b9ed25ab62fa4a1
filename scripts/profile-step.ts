// Where the bench's LoRA training step spends its time on this device: the step timed whole (with
// and without activation checkpointing), then every dispatch of one step replayed alone and timed,
// summed by kernel. On a shared machine run it twice and compare within a run.
//
//   node --import ./bin/register.mjs scripts/profile-step.ts [layers=2] [T=256] [vocab=N] [ckpt=false] [reps=3] [detail=1]
//
// Replaying a dispatch reruns it on whatever its buffers hold by then (uniform parameters are
// rewritten first): the timing is right, the values are not, and the step's results are not used.

import { loraStepFlops } from '../src/bench/train.ts';
import { loadBenchModel } from '../src/bench/model.ts';
import { createNodeGpu } from '../src/gpu/node-gpu.ts';
import { type DispatchRecord, Recorder } from '../src/gpu/recorder.ts';
import { DEFAULT_LORA, initLora, type LoraConfig } from '../src/lora/config.ts';
import { DEFAULT_TRAIN, train } from '../src/train/trainer.ts';
import { loraTrainable } from '../src/train/trainable.ts';
import { seededRandom } from '../src/util/random.ts';

const args = new Map(process.argv.slice(2).map((a) => a.split('=') as [string, string]));
const layers = Number(args.get('layers') ?? 2);
const T = Number(args.get('T') ?? 256);
const vocab = args.has('vocab') ? Number(args.get('vocab')) : undefined;
const ckpt = (args.get('ckpt') ?? 'false') === 'true';
const reps = Number(args.get('reps') ?? 3);

const gpu = await createNodeGpu();
const { model } = await loadBenchModel(gpu, { quick: false, layers, vocab, maxPositions: T });
const cfg = model.cfg;
const lc: LoraConfig = { ...DEFAULT_LORA, rank: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] };
const trainable = loraTrainable(gpu, initLora(cfg, lc, 0));
const random = seededRandom(7);
const row = () => ({ inputIds: Array.from({ length: T }, () => Math.floor(random() * cfg.vocabSize)) });
const step = async (checkpointing: boolean): Promise<number> => {
  const t0 = performance.now();
  await train(model, trainable, [row()], null, { ...DEFAULT_TRAIN, lr: 1e-4, steps: 1, batchSize: 1, seqLen: T, schedule: 'constant', checkpointing });
  return performance.now() - t0;
};
const useful = loraStepFlops(cfg, lc, 1, T, false).useful;
await step(true);
await step(false);
for (const c of [true, false, true, false]) {
  const ms = await step(c);
  console.log(`step, checkpointing ${c ? 'on ' : 'off'}: ${ms.toFixed(0)} ms, ${(useful / ms / 1e6).toFixed(2)} useful GFLOP/s`);
}

const recs: DispatchRecord[] = [];
Recorder.onDispatch = (d) => recs.push(d);
const wall = await step(ckpt);
Recorder.onDispatch = null;

const kinds = new Map<string, { ms: number; n: number }>();
const detail: string[] = [];
for (const d of recs) {
  let best = Infinity;
  for (let t = 0; t < 2; t++) {
    if (d.params) gpu.device.queue.writeBuffer(d.params.buffer, 0, new Uint8Array(d.params.data));
    await gpu.device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    const enc = gpu.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    for (let i = 0; i < reps; i++) pass.dispatchWorkgroups(...d.grid);
    pass.end();
    gpu.device.queue.submit([enc.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  const k = kinds.get(d.pipeline.label) ?? { ms: 0, n: 0 };
  kinds.set(d.pipeline.label, { ms: k.ms + best, n: k.n + 1 });
  detail.push(`${d.pipeline.label} ${d.grid.join('x')} ${best.toFixed(2)} ms`);
}
const total = [...kinds.values()].reduce((s, k) => s + k.ms, 0);
console.log(`one step, checkpointing ${ckpt ? 'on' : 'off'}: ${wall.toFixed(0)} ms wall, ${recs.length} dispatches, ${total.toFixed(0)} ms of them timed alone`);
for (const [label, k] of [...kinds].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`${label.padEnd(34)} ${String(k.n).padStart(4)} x ${k.ms.toFixed(1).padStart(8)} ms ${((100 * k.ms) / total).toFixed(1).padStart(5)}%`);
}
if (args.get('detail')) for (const line of detail) console.log(line);
gpu.destroy();
