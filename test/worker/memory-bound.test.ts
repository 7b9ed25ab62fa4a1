// GPU memory stays inside the run's plan however the row lengths vary, through the real worker
// handler the app uses (Dawn in Node): 120 steps on the demo model with chat rows of every length,
// a validation (and a sample generation) every 30 steps, a long chat in the playground, a second run
// and a second model in the same "tab". Memory figures come from the buffer pool's own byte counts,
// which are deterministic for a given data order; no timing is asserted.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import type { FinalReply, ModelInfoResult, Request, TrainResult, TrainSettings } from '../../src/protocol/messages.ts';
import { QUICK_PRESET } from '../../src/state/presets.ts';
import { createHandler } from '../../src/worker/handler.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL_DIR = join(ROOT, 'public', 'models', 'kjv-llama');
const file = (path: string) => new File([new Uint8Array(readFileSync(path))], path.slice(path.lastIndexOf('/') + 1));
/** Chats whose rendered rows run from ~30 to ~120 tokens: nearly every micro-batch pads to a new length. */
const DATASET = { kind: 'file' as const, file: file(join(ROOT, 'public', 'datasets', 'finish-the-verse.jsonl')) };
const SETTINGS: TrainSettings = { ...QUICK_PRESET, steps: 120, batchSize: 4, seqLen: 128, evalEvery: 30 };

type Body = { [K in Request['kind']]: Omit<Extract<Request, { kind: K }>, 'id'> }[Request['kind']];
let nextId = 1;
let gpu: Gpu | null = null;
const h = createHandler({ openGpu: async (o) => (gpu = await createNodeGpu(o)) });

async function call<T>(body: Body): Promise<T> {
  const reply: FinalReply = await h.handle({ ...body, id: nextId++ } as Request);
  if (reply.type === 'error') throw new Error(`${reply.name}: ${reply.message}`);
  return reply.value as T;
}

const pool = () => gpu!.pool.stats();

afterAll(async () => {
  await h.dispose();
});

describe('GPU memory across a long run, a chat, a second run and a second model', () => {
  it('stays within 1.25x of the plan after 120 steps of varied length, with validations', async () => {
    await call({ kind: 'loadModel', source: { kind: 'files', files: readdirSync(MODEL_DIR).map((f) => file(join(MODEL_DIR, f))) } });
    const r = await call<TrainResult>({ kind: 'train', dataset: DATASET, settings: SETTINGS });
    expect(r.status).toBe('finished');
    expect(r.steps).toBe(120);
    console.log(`120 varied-length steps: peak ${(r.peakBytes / 2 ** 20).toFixed(2)} MiB, plan ${(r.planBytes / 2 ** 20).toFixed(2)} MiB (${(r.peakBytes / r.planBytes).toFixed(3)}x)`);
    expect(r.planBytes).toBeGreaterThan(0);
    expect(r.peakBytes).toBeLessThanOrEqual(1.25 * r.planBytes);
    // The run's buffers are given back when it ends: what stays is the model and the trained adapter.
    expect(pool().currentBytes).toBe(pool().liveBytes);
  });

  it('holds no more after a long chat than after its longest turn alone', async () => {
    const turn = (n: number) => 'Question: The LORD is my shepherd; I shall not want. '.repeat(n) + '\nAnswer:';
    const ask = (n: number) => call({ kind: 'generate', prompt: turn(n), maxNewTokens: 8, useAdapter: true });
    gpu!.pool.trim();
    await ask(10);
    const longestAlone = pool().currentBytes;
    gpu!.pool.trim();
    for (let n = 1; n <= 10; n++) await ask(n);
    const afterChat = pool().currentBytes;
    console.log(`chat of 10 growing turns: ${(afterChat / 2 ** 20).toFixed(2)} MiB held, longest turn alone ${(longestAlone / 2 ** 20).toFixed(2)} MiB`);
    expect(afterChat).toBeLessThanOrEqual(longestAlone);
  });

  it('a second run starts from the model alone and stays within its own plan', async () => {
    const held = pool().liveBytes;
    const r = await call<TrainResult>({ kind: 'train', dataset: DATASET, settings: { ...SETTINGS, steps: 12, batchSize: 2, seqLen: 96, evalEvery: 6 } });
    expect(r.status).toBe('finished');
    expect(r.peakBytes).toBeLessThanOrEqual(1.25 * r.planBytes);
    // The first run's adapter was replaced by the second's, of the same size (give or take the few
    // bytes of slack of a reused buffer): nothing of the first run's megabytes of activations is left.
    expect(pool().currentBytes).toBe(pool().liveBytes);
    expect(Math.abs(pool().liveBytes - held)).toBeLessThan(0.01 * held);
  });

  it('loading a second model keeps nothing of the first', async () => {
    const files = [...makeTestModel({ architecture: 'qwen2', dtype: 'F16', seed: 3 })].map(([name, bytes]) => new File([new Uint8Array(bytes)], name));
    const info = await call<ModelInfoResult>({ kind: 'loadModel', source: { kind: 'files', files } });
    const s = pool();
    expect(s.currentBytes).toBe(s.liveBytes);
    // The new model's weights, plus its RoPE table (positions x head dim, f32): nothing else is held.
    expect(s.liveBytes).toBeGreaterThanOrEqual(info.weightBytes);
    expect(s.liveBytes).toBeLessThan(info.weightBytes + 1024 * 1024);
  });
});
