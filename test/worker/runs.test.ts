// Saved runs through the real worker handler (Dawn in Node; IndexedDB from fake-indexeddb, the
// browser's own is exercised by e2e/persistence.spec.ts): a run paused mid-way and resumed from its
// checkpoint by a NEW handler (as after a page reload) draws the same loss curve as a run that was
// never interrupted, the finished run's adapter is in the library, and a saved adapter can be
// chosen for generation and imported back from its PEFT files.

import 'fake-indexeddb/auto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import type { FinalReply, GenerateResult, ProgressReply, Request, SavedAdapter, TrainResult, TrainSettings } from '../../src/protocol/messages.ts';
import { openAppStorage } from '../../src/storage/app.ts';
import { QUICK_PRESET } from '../../src/state/presets.ts';
import { createHandler, type Handler } from '../../src/worker/handler.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL_DIR = join(ROOT, 'public', 'models', 'kjv-llama');
const file = (path: string) => new File([new Uint8Array(readFileSync(path))], path.slice(path.lastIndexOf('/') + 1));
const DATASET = { kind: 'file' as const, file: file(join(ROOT, 'public', 'datasets', 'verily.jsonl')) };
const SETTINGS: TrainSettings = { ...QUICK_PRESET, steps: 8, batchSize: 4, seqLen: 64, evalEvery: 4, dropout: 0.1, gradAccum: 2 };

type Body = { [K in Request['kind']]: Omit<Extract<Request, { kind: K }>, 'id'> }[Request['kind']];
let nextId = 1;
const handlers: Handler[] = [];

async function handler(): Promise<Handler> {
  const h = createHandler({ openGpu: (o) => createNodeGpu(o) });
  handlers.push(h);
  await call(h, { kind: 'loadModel', source: { kind: 'files', files: readdirSync(MODEL_DIR).map((f) => file(join(MODEL_DIR, f))) } });
  return h;
}

async function call<T>(h: Handler, body: Body, onProgress?: (p: ProgressReply) => void): Promise<T> {
  const reply: FinalReply = await h.handle({ ...body, id: nextId++ } as Request, onProgress);
  if (reply.type === 'error') throw new Error(`${reply.name}: ${reply.message}`);
  return reply.value as T;
}

afterAll(async () => {
  for (const h of handlers) await h.dispose();
});

describe('saved runs', () => {
  it('pause, then resume in a new handler, repeats the uninterrupted run exactly', async () => {
    const h1 = await handler();
    const straight = await call<TrainResult>(h1, { kind: 'train', dataset: DATASET, settings: SETTINGS });
    expect(straight.status).toBe('finished');
    expect(straight.storageProblem).toBeNull();

    let paused = false;
    const first = await call<TrainResult>(h1, { kind: 'train', dataset: DATASET, settings: SETTINGS }, (p) => {
      if (!paused && p.metrics?.step === 3 && p.metrics.loss !== undefined) {
        paused = true;
        void call(h1, { kind: 'controlTraining', action: 'pause' });
      }
    });
    expect(first.status).toBe('paused');
    expect(first.steps).toBeGreaterThanOrEqual(3);
    expect(first.steps).toBeLessThan(SETTINGS.steps);
    expect(first.adapterId).toBeNull();

    // A new handler is a reloaded page: nothing in memory, the run and its checkpoint in storage.
    const h2 = await handler();
    const { storage } = await openAppStorage();
    const saved = (await storage!.getRun(first.runId))!;
    expect(saved.status).toBe('paused');
    expect(saved.step).toBe(first.steps);
    expect(saved.metrics.filter((m) => m.loss !== undefined).map((m) => m.loss)).toEqual(straight.losses.slice(0, first.steps));

    const resumed = await call<TrainResult>(h2, { kind: 'resumeTraining', runId: first.runId });
    expect(resumed.status).toBe('finished');
    expect(resumed.losses).toEqual(straight.losses);
    expect(resumed.valLossAfter).toBe(straight.valLossAfter);
    const done = (await storage!.getRun(first.runId))!;
    expect(done.status).toBe('finished');
    expect(done.metrics.filter((m) => m.loss !== undefined).map((m) => m.loss)).toEqual(straight.losses);
    expect(await storage!.getCheckpoint(first.runId)).toBeUndefined();
    expect(resumed.adapterId).toBe(done.adapterId);

    // The library's adapter is the trained one: choosing it generates what the trained adapter did.
    const trained = await call<GenerateResult>(h2, { kind: 'generate', prompt: 'Question: The LORD is my shepherd;\nAnswer:', maxNewTokens: 8 });
    const base = await call<GenerateResult>(h2, { kind: 'generate', prompt: 'Question: The LORD is my shepherd;\nAnswer:', maxNewTokens: 8, useAdapter: false });
    const h3 = await handler();
    const chosen = await call<SavedAdapter>(h3, { kind: 'useAdapter', adapterId: resumed.adapterId });
    expect(chosen).toMatchObject({ id: resumed.adapterId, rank: SETTINGS.rank, alpha: SETTINGS.alpha, baseModel: saved.baseModel });
    const again = await call<GenerateResult>(h3, { kind: 'generate', prompt: 'Question: The LORD is my shepherd;\nAnswer:', maxNewTokens: 8 });
    expect(again.tokens).toEqual(trained.tokens);
    expect(trained.tokens).not.toEqual(base.tokens);

    // Its PEFT files, zipped, import back as a new library entry with the same settings.
    const record = (await storage!.getAdapter(resumed.adapterId!))!;
    const zip = zipSync({ 'my-adapter/adapter_config.json': new TextEncoder().encode(record.files.configJson), 'my-adapter/adapter_model.safetensors': record.files.safetensors });
    const imported = await call<SavedAdapter>(h3, { kind: 'importAdapter', files: [new File([zip], 'my-adapter.zip')] });
    expect(imported).toMatchObject({ name: 'my-adapter', rank: SETTINGS.rank, alpha: SETTINGS.alpha });
    expect(imported.id).not.toBe(record.id);
    storage!.close();
  }, 600_000);

  it('a lost GPU device ends the run at its last checkpoint, and Resume on a new device continues the same curve', async () => {
    const settings = { ...SETTINGS, steps: 14, evalEvery: 0 };
    const straight = await call<TrainResult>(await handler(), { kind: 'train', dataset: DATASET, settings });

    let gpu: Gpu | null = null;
    const h = createHandler({
      openGpu: async (o) => {
        gpu = await createNodeGpu(o);
        return gpu;
      },
    });
    handlers.push(h);
    const load = { kind: 'loadModel', source: { kind: 'files', files: readdirSync(MODEL_DIR).map((f) => file(join(MODEL_DIR, f))) } } as const;
    await call(h, load);
    const first = gpu!;
    let runId = '';
    const lost = call<TrainResult>(h, { kind: 'train', dataset: DATASET, settings }, (p) => {
      if (p.metrics?.runId) runId = p.metrics.runId;
      // What a driver reset looks like to the page: the device is destroyed under the engine.
      if (p.metrics?.step === 12 && p.metrics.loss !== undefined) first.device.destroy();
    });
    await expect(lost).rejects.toThrow(/DeviceLostError: The GPU device was lost .*saved at step 10.*Resume/);
    const { storage } = await openAppStorage();
    const failed = (await storage!.getRun(runId))!;
    expect(failed).toMatchObject({ status: 'failed', step: 10 });

    await call(h, load);
    expect(gpu).not.toBe(first);
    const resumed = await call<TrainResult>(h, { kind: 'resumeTraining', runId });
    expect(resumed.status).toBe('finished');
    expect(resumed.losses).toEqual(straight.losses);
    storage!.close();
  }, 600_000);

  it('refuses to resume on another base model, and a second run while one trains', async () => {
    const h = await handler();
    const { storage } = await openAppStorage();
    const runs = await storage!.listRuns();
    const run = runs[0]!;
    await storage!.updateRun(run.id, { baseModel: 'someone/else' });
    await expect(call(h, { kind: 'resumeTraining', runId: run.id })).rejects.toThrow(/trained on someone\/else.*load someone\/else first/);
    await expect(call(h, { kind: 'resumeTraining', runId: 'no-such-run' })).rejects.toThrow(/no longer saved/);
    expect(await call(h, { kind: 'controlTraining', action: 'stop' })).toEqual({ accepted: false });
    storage!.close();
  }, 120_000);
});
