// The worker's request handler: with a fake engine (no GPU) for the protocol rules, and once with the
// real GPU (Dawn in Node) for `init`.

import { describe, expect, it } from 'vitest';
import { WebGpuUnavailableError } from '../../src/gpu/errors.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import type { InitResult, ProgressReply, Request } from '../../src/protocol/messages.ts';
import { createHandler, type HandlerGpu } from '../../src/worker/handler.ts';
import { loadReferenceWeights, referenceGreedy, referenceLoss } from '../../src/model/reference.ts';
import { makeTestModel } from '../../src/model/test-model.ts';
import { parseModelConfig } from '../../src/model/config.ts';

function fakeGpu(f16 = false): HandlerGpu & { destroyed: number } {
  const g = {
    adapter: { vendor: 'fake', architecture: 'test', device: 'dev0', description: 'a fake adapter' },
    f16,
    limits: {
      maxBufferSize: 1 << 30,
      maxStorageBufferBindingSize: 1 << 27,
      maxStorageBuffersPerShaderStage: 8,
      maxComputeWorkgroupsPerDimension: 65535,
      maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256,
    },
    destroyed: 0,
    destroy() {
      g.destroyed++;
    },
  };
  // Protocol-only fake: these tests never send a request that reaches the engine.
  return g as unknown as HandlerGpu & { destroyed: number };
}

describe('worker handler (fake engine)', () => {
  it('init returns the adapter, f16 and limits as a result reply with the request id', async () => {
    const gpu = fakeGpu(true);
    const seen: { allowF16?: boolean }[] = [];
    const h = createHandler({
      openGpu: async (opts) => {
        seen.push(opts);
        return gpu;
      },
    });
    const progress: ProgressReply[] = [];
    const reply = await h.handle({ kind: 'init', id: 7, allowF16: false }, (p) => progress.push(p));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.type === 'progress' && p.id === 7 && p.kind === 'init')).toBe(true);
    expect(reply).toMatchObject({
      type: 'result',
      id: 7,
      kind: 'init',
      value: { adapter: gpu.adapter, f16: true, limits: gpu.limits },
    });
    // The fake cannot run the matmul timing: the defaults stay, and the reply says why.
    expect((reply as { value: InitResult }).value.tuningNote).toMatch(/^matmul layouts: the defaults, as timing them failed \(.+\)$/);
    expect(seen).toEqual([{ allowF16: false }]);
  });

  it('opens the GPU once for repeated and concurrent init requests, and destroys it on dispose', async () => {
    const gpu = fakeGpu();
    let opened = 0;
    const h = createHandler({
      openGpu: async () => {
        opened++;
        return gpu;
      },
    });
    const replies = await Promise.all([h.handle({ kind: 'init', id: 1 }), h.handle({ kind: 'init', id: 2 })]);
    await h.handle({ kind: 'init', id: 3 });
    expect(replies.map((r) => [r.type, r.id])).toEqual([
      ['result', 1],
      ['result', 2],
    ]);
    expect(opened).toBe(1);
    await h.dispose();
    expect(gpu.destroyed).toBe(1);
  });

  it('turns a failure into an error reply with the error name and message, and allows a retry', async () => {
    let attempt = 0;
    const h = createHandler({
      openGpu: async () => {
        if (attempt++ === 0) throw new WebGpuUnavailableError('no GPU adapter was found (requestAdapter returned null)');
        return fakeGpu();
      },
    });
    const reply = await h.handle({ kind: 'init', id: 4 });
    expect(reply.type).toBe('error');
    if (reply.type !== 'error') return;
    expect(reply.id).toBe(4);
    expect(reply.kind).toBe('init');
    expect(reply.name).toBe('WebGpuUnavailableError');
    expect(reply.message).toContain('no GPU adapter was found');
    expect(reply.message).toContain('Chrome or Edge 113+');

    const retry = await h.handle({ kind: 'init', id: 5 });
    expect(retry.type).toBe('result');
  });

  it('keeps working when the progress sink fails (the UI went away)', async () => {
    const h = createHandler({ openGpu: async () => fakeGpu() });
    const throwing = await h.handle({ kind: 'init', id: 1 }, () => {
      throw new Error('gone');
    });
    expect(throwing.type).toBe('result');
    const h2 = createHandler({ openGpu: async () => fakeGpu() });
    const rejecting = await h2.handle({ kind: 'init', id: 2 }, (() => Promise.reject(new Error('gone'))) as unknown as () => void);
    expect(rejecting.type).toBe('result');
  });

  it('answers an unknown kind with an error reply (never silence, never a throw)', async () => {
    let opened = 0;
    const h = createHandler({
      openGpu: async () => {
        opened++;
        return fakeGpu();
      },
    });
    const reply = await h.handle({ kind: 'teleport', id: 9 } as unknown as Request);
    const proto = await h.handle({ kind: 'toString', id: 10 } as unknown as Request);
    expect(proto).toMatchObject({ type: 'error', id: 10, name: 'ProtocolError' });
    expect(reply).toMatchObject({ type: 'error', id: 9, kind: 'teleport', name: 'ProtocolError' });
    if (reply.type === 'error') expect(reply.message).toMatch(/unknown request kind "teleport"/);
    expect(opened).toBe(0);
  });

  it('answers malformed requests with an error reply', async () => {
    const h = createHandler({ openGpu: async () => fakeGpu() });
    for (const bad of [null, 42, 'init', { kind: 'init' }, { id: 3 }, { kind: 5, id: 1 }]) {
      const reply = await h.handle(bad as unknown as Request);
      expect(reply.type, JSON.stringify(bad)).toBe('error');
      if (reply.type === 'error') expect(reply.name).toBe('ProtocolError');
    }
    const noId = await h.handle({ kind: 'init' } as unknown as Request);
    expect(noId.id).toBe(-1);
  });

  it('reports a missing navigator.gpu as WebGpuUnavailableError by default', async () => {
    // Node 20 has no navigator.gpu, so the default opener sees none.
    const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
    expect(nav?.gpu, 'this case needs a context without navigator.gpu').toBeUndefined();
    const h = createHandler();
    const reply = await h.handle({ kind: 'init', id: 1 });
    expect(reply).toMatchObject({ type: 'error', name: 'WebGpuUnavailableError' });
    if (reply.type === 'error') expect(reply.message).toContain('navigator.gpu is missing');
  });
});

describe('worker handler (real GPU through Dawn)', () => {
  it('init opens a real adapter and reports it', async () => {
    const h = createHandler({ openGpu: (opts) => createNodeGpu(opts) });
    try {
      const reply = await h.handle({ kind: 'init', id: 1 });
      if (reply.type === 'error') throw new Error(`${reply.name}: ${reply.message}`);
      const value = reply.value as InitResult;
      expect(value.adapter.vendor + value.adapter.architecture + value.adapter.description).not.toBe('');
      expect(typeof value.f16).toBe('boolean');
      expect(value.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
      expect(value.limits.maxBufferSize).toBeGreaterThanOrEqual(value.limits.maxStorageBufferBindingSize);
      // Node has no Cache Storage: the layouts were timed on this device.
      expect(value.tuningNote).toBe('matmul layouts timed on this GPU');
      expect(value.tuning.source).toBe('measured');
      // The reply must survive structured cloning (postMessage through comlink).
      expect(structuredClone(reply)).toEqual(reply);
    } finally {
      await h.dispose();
    }
  });
});

describe('worker handler driving the real engine', () => {
  it('loads dropped model files, generates greedily and evaluates, as the reference does', async () => {
    const files = makeTestModel({ architecture: 'qwen2', seed: 21, dtype: 'BF16' });
    const cfg = parseModelConfig(new TextDecoder().decode(files.get('config.json')!));
    const ref = loadReferenceWeights(files);
    const dropped = [...files].map(([name, bytes]) => new File([new Uint8Array(bytes)], name));
    const h = createHandler({ openGpu: (opts) => createNodeGpu(opts) });
    try {
      const early = await h.handle({ kind: 'generate', id: 1, prompt: 'hi' });
      expect(early).toMatchObject({ type: 'error', name: 'NoModelError' });

      const progress: ProgressReply[] = [];
      const loaded = await h.handle({ kind: 'loadModel', id: 2, source: { kind: 'files', files: dropped } }, (p) => progress.push(p));
      if (loaded.type === 'error') throw new Error(`${loaded.name}: ${loaded.message}`);
      expect(loaded.value).toMatchObject({ architecture: 'Qwen2ForCausalLM', layers: cfg.numLayers, weightDtype: 'bf16', vocabSize: cfg.vocabSize });
      expect(progress.some((p) => p.message.includes('weights'))).toBe(true);
      const noAdapter = await h.handle({ kind: 'exportAdapter', id: 9, format: 'peft' });
      expect(noAdapter).toMatchObject({ type: 'error', name: 'NoAdapterError' });

      const gen = await h.handle({ kind: 'generate', id: 3, prompt: 'Once upon a time', maxNewTokens: 6 });
      if (gen.type === 'error') throw new Error(`${gen.name}: ${gen.message}`);
      const value = gen.value as { tokens: number[]; promptTokens: number[] };
      expect(value.tokens).toEqual(referenceGreedy(cfg, ref, value.promptTokens, 6));

      const rows = [{ inputIds: [3, 50, 120, 7, 9, 300] }];
      const ev = await h.handle({ kind: 'evaluate', id: 4, rows });
      if (ev.type === 'error') throw new Error(`${ev.name}: ${ev.message}`);
      const want = referenceLoss(cfg, ref, rows);
      expect((ev.value as { loss: number }).loss).toBeCloseTo(want.loss, 3);
    } finally {
      await h.dispose();
    }
  });
});
