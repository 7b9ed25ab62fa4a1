// GPU smoke test: a real adapter, one tiny compute shader through PipelineCache + Recorder, read back.
// out: [N]  N = invocations; out[i] = 2 * i

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAdapter, type Gpu } from '../../src/gpu/device.ts';
import { createNodeGpu } from '../../src/gpu/node-gpu.ts';
import type { ShaderSpec } from '../../src/gpu/pipelines.ts';
import { grid1d, params, readF32, Recorder, STORAGE } from '../../src/gpu/recorder.ts';

const DOUBLE_INDEX: ShaderSpec = {
  name: 'double_index',
  parts: [
    /* wgsl */ `
struct Params { n: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // [N]
override WG: u32 = 64u;
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  out[i] = f32(i) * 2.0;
}`,
  ],
  overrides: { WG: 64 },
};

describe('WebGPU adapter (Node, Dawn)', () => {
  let gpu: Gpu;

  beforeAll(async () => {
    gpu = await createNodeGpu();
  });

  afterAll(() => {
    gpu?.destroy();
  });

  it('names a real adapter and reports its limits', () => {
    expect(describeAdapter(gpu.adapter).length).toBeGreaterThan(0);
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(gpu.limits.maxBufferSize).toBeGreaterThanOrEqual(gpu.limits.maxStorageBufferBindingSize);
  });

  it('runs a compute shader and reads the result back', async () => {
    const n = 1000;
    const pipeline = gpu.pipelines.get(DOUBLE_INDEX);
    // A second request for the same spec reuses the pipeline.
    expect(gpu.pipelines.get(DOUBLE_INDEX)).toBe(pipeline);
    expect(gpu.pipelines.size).toBe(1);

    const out = gpu.pool.acquire(n * 4, STORAGE, 'out');
    const rec = new Recorder(gpu);
    rec.clear(out);
    rec.dispatch(pipeline, params([['u', n]]), [out], grid1d(gpu, n, 64));
    expect(rec.dispatches).toBe(1);
    rec.submit();

    const got = await readF32(gpu, out, 0, n);
    gpu.checkErrors();
    expect(got.length).toBe(n);
    const bad: string[] = [];
    for (let i = 0; i < n && bad.length < 5; i++) if (got[i] !== i * 2) bad.push(`out[${i}] = ${got[i]}, want ${i * 2}`);
    expect(bad, bad.join('\n')).toEqual([]);
    gpu.pool.release(out);
  });
});
