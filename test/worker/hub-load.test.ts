// Loading a hub model through the worker's handler, with the real engine (Dawn) and a hub stand-in
// on 127.0.0.1: structured download progress, and `cancel`, which ends the load with an AbortError
// and leaves the model loaded before it in place and working.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import type { FinalReply, ModelInfoResult, ProgressReply } from '../../src/protocol/messages.ts';
import { createHandler } from '../../src/worker/handler.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

const DEMO = join(import.meta.dirname, '..', '..', 'public', 'models', 'kjv-llama');
const WEIGHTS = 'model.safetensors';
const SIZE = statSync(join(DEMO, WEIGHTS)).size;
const FAST = 'tabtune-test/kjv-llama';
const SLOW = 'tabtune-test/slow-llama';

let hub: HubServer;

beforeAll(async () => {
  hub = await startHubServer({
    [FAST]: { dir: DEMO },
    // About 40 s for the weights: the test cancels long before.
    [SLOW]: { dir: DEMO, slow: { files: [WEIGHTS], chunk: 16384, delayMs: 500 } },
  });
});

afterAll(async () => {
  await hub.close();
});

function ok(reply: FinalReply): unknown {
  if (reply.type === 'error') throw new Error(`${reply.name}: ${reply.message}`);
  return reply.value;
}

describe('loading a hub model through the handler', () => {
  it('reports downloads; a cancel ends the next load with AbortError and keeps the first model working', async () => {
    const h = createHandler({ openGpu: (opts) => createNodeGpu(opts) });
    try {
      expect(await h.handle({ kind: 'cancel', id: 1, targetId: 99 })).toEqual({ type: 'result', id: 1, kind: 'cancel', value: { cancelled: false } });

      const progress: ProgressReply[] = [];
      const info = ok(await h.handle({ kind: 'loadModel', id: 2, source: { kind: 'hub', repo: FAST, hubBase: hub.base } }, (p) => progress.push(p))) as ModelInfoResult;
      expect(info.name).toBe(FAST);
      const downloads = progress.filter((p) => p.download).map((p) => p.download!);
      expect(new Set(downloads.map((d) => d.file))).toEqual(new Set(['config.json', 'tokenizer.json', 'tokenizer_config.json', WEIGHTS]));
      expect(downloads.filter((d) => d.file === WEIGHTS).at(-1)).toMatchObject({ loaded: SIZE, total: SIZE, done: true, cached: false });
      const weightsReport = progress.find((p) => p.download?.file === WEIGHTS && p.download.done)!;
      expect(weightsReport.fraction).toBe(1);
      expect(weightsReport.message).toMatch(/^downloading 1\.\d \/ 1\.\d MiB · .+\/s · model\.safetensors$/);
      // Progress replies cross the worker boundary: they must survive structured cloning.
      expect(structuredClone(weightsReport)).toEqual(weightsReport);

      let cancelReply: Promise<FinalReply> | null = null;
      const slowLoad = h.handle({ kind: 'loadModel', id: 3, source: { kind: 'hub', repo: SLOW, hubBase: hub.base } }, (p) => {
        if (!cancelReply && p.download?.file === WEIGHTS && p.download.loaded > 0) cancelReply = h.handle({ kind: 'cancel', id: 4, targetId: 3 });
      });
      const cancelled = await slowLoad;
      expect(cancelled).toMatchObject({ type: 'error', id: 3, kind: 'loadModel', name: 'AbortError' });
      if (cancelled.type === 'error') expect(cancelled.message).toBe(`Loading ${SLOW} was cancelled; ${FAST} is still loaded.`);
      expect(await cancelReply).toEqual({ type: 'result', id: 4, kind: 'cancel', value: { cancelled: true } });
      const req = hub.requests.filter((r) => r.repo === SLOW && r.file === WEIGHTS).at(-1)!;
      expect(req.sent).toBeLessThan(SIZE);

      // The first model is still the loaded one, and it works.
      const gen = ok(await h.handle({ kind: 'generate', id: 5, prompt: 'In the beginning', maxNewTokens: 3 })) as { tokens: number[] };
      expect(gen.tokens.length).toBeGreaterThan(0);
      // The request is over: cancelling it again finds nothing.
      expect(ok(await h.handle({ kind: 'cancel', id: 6, targetId: 3 }))).toEqual({ cancelled: false });
    } finally {
      await h.dispose();
    }
  });
});
