// Merging a LoRA into a model folder: the merged model computes what the base with the adapter
// applied unmerged computes; bf16 weights are rounded once; shards, index and headers follow the
// rules transformers and the safetensors reader hold files to.

import { describe, expect, it } from 'vitest';
import { bytesSource, memoryFiles } from '../../src/formats/byte-source.ts';
import { INDEX_FILE, openCheckpoint, readTensorBytes, SINGLE_FILE } from '../../src/formats/checkpoint.ts';
import { bf16BitsToF32, fromFloat32, toFloat32 } from '../../src/formats/dtype.ts';
import { TensorError } from '../../src/formats/errors.ts';
import { collectFile, mergedModelFiles, mergeToMemory, type MergeOptions } from '../../src/formats/merge.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import type { LoraWeights } from '../../src/lora/adapter.ts';
import { uploadLora } from '../../src/lora/gpu-lora.ts';
import { evaluate, type TokenRow } from '../../src/model/evaluate.ts';
import { destroyModel, loadModel, type LoadedModel } from '../../src/model/model.ts';
import { makeTestModel, type TestModelOptions } from '../../src/model/test-model.ts';
import type { WeightPrecision } from '../../src/model/weights.ts';
import { randomArray } from '../helpers/close.ts';
import { testGpu } from '../helpers/gpu.ts';
import { randomLora } from '../helpers/lora.ts';

function tokens(n: number, V: number, seed: number): number[] {
  return Array.from(randomArray(n, seed), (x) => Math.floor(((x + 1) / 2) * V) % V);
}

function rowsFor(V: number): TokenRow[] {
  return [{ inputIds: tokens(23, V, 11) }, { inputIds: tokens(9, V, 12) }, { inputIds: tokens(17, V, 13) }];
}

const load = (gpu: Gpu, files: Map<string, Uint8Array>, precision: WeightPrecision, name = 'model') => loadModel(gpu, memoryFiles(name, files), { precision });

/** Loss of the base model with the adapter applied unmerged. */
async function unmergedLoss(gpu: Gpu, files: Map<string, Uint8Array>, lora: LoraWeights, precision: WeightPrecision): Promise<number> {
  const model = await load(gpu, files, precision, 'base');
  model.lora = uploadLora(gpu, lora);
  try {
    return (await evaluate(model, rowsFor(model.cfg.vocabSize), { batchSize: 2 })).loss;
  } finally {
    destroyModel(model);
  }
}

async function lossOf(model: LoadedModel): Promise<number> {
  try {
    return (await evaluate(model, rowsFor(model.cfg.vocabSize), { batchSize: 2 })).loss;
  } finally {
    destroyModel(model);
  }
}

/** W + s * B @ A in float64, and |W| + |s| * sum |B_ok A_ki| per element (the scale of its rounding error). */
function cpuMerge(w: Float32Array, lora: LoraWeights, module: string): Float64Array & { magnitude: Float64Array } {
  const m = lora.modules.get(module)!;
  const out = Float64Array.from(w);
  const magnitude = Float64Array.from(w, Math.abs);
  for (let o = 0; o < m.outFeatures; o++) {
    for (let i = 0; i < m.inFeatures; i++) {
      let s = 0;
      let abs = 0;
      for (let k = 0; k < m.rank; k++) {
        const p = m.b[o * m.rank + k]! * m.a[k * m.inFeatures + i]!;
        s += p;
        abs += Math.abs(p);
      }
      out[o * m.inFeatures + i] = out[o * m.inFeatures + i]! + m.scaling * s;
      magnitude[o * m.inFeatures + i] = magnitude[o * m.inFeatures + i]! + Math.abs(m.scaling) * abs;
    }
  }
  return Object.assign(out, { magnitude });
}

const weightNames = (lora: LoraWeights) => new Set([...lora.modules.keys()].map((m) => `${m}.weight`));

async function tensorsOf(files: Map<string, Uint8Array>) {
  return (await openCheckpoint(memoryFiles('merged', files))).tensors;
}

const json = (b: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;

describe.each([
  ['llama', { architecture: 'llama', seed: 21 }, 6],
  ['qwen2 (tied, sharded base, biases)', { architecture: 'qwen2', seed: 22, tied: true, shards: 2 }, 4],
  ['gemma3 (tied, four norms per layer, sliding layers)', { architecture: 'gemma3', seed: 23, numLayers: 6 }, 4],
  ['gemma3 vision-language checkpoint (text model under model.language_model.)', { architecture: 'gemma3', seed: 24, numLayers: 6, multimodal: 'new' }, 4],
] as const)('merge, %s, F32', (_name, o: TestModelOptions, rank) => {
  it('the merged model evaluates like the base with the adapter unmerged', async () => {
    const gpu = await testGpu();
    const files = makeTestModel({ ...o, dtype: 'F32' });
    const base = await load(gpu, files, 'f32');
    const { weights: lora } = randomLora(base.cfg, rank, 0.75, 100);
    destroyModel(base);
    const want = await unmergedLoss(gpu, files, lora, 'f32');

    let last: [number, number] = [0, 0];
    const merged = await mergeToMemory(gpu, memoryFiles('base', files), lora, { onProgress: (d, t) => (last = [d, t]) });
    expect(merged.has(SINGLE_FILE)).toBe(true);
    expect(merged.has(INDEX_FILE)).toBe(false);
    expect(last[0]).toBe(last[1]);

    const got = await lossOf(await load(gpu, merged, 'f32', 'merged'));
    expect(Number.isFinite(want)).toBe(true);
    expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * Math.abs(want));
  });

  it('adapted tensors are W + s B A, the rest and the small files are copied byte for byte', async () => {
    const gpu = await testGpu();
    const files = makeTestModel({ ...o, dtype: 'F32' });
    const base = await load(gpu, files, 'f32');
    const { weights: lora } = randomLora(base.cfg, rank, 0.75, 200);
    destroyModel(base);
    const merged = await mergeToMemory(gpu, memoryFiles('base', files), lora);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) expect(merged.get(f), f).toEqual(files.get(f));

    const before = await tensorsOf(files);
    const after = await tensorsOf(merged);
    expect([...after.keys()]).toEqual([...before.keys()]); // the base checkpoint's order
    const adapted = weightNames(lora);
    expect(adapted.size).toBe(7 * base.cfg.numLayers);
    // A vision-language checkpoint keeps its names; the adapter names the text model's.
    const textName = (name: string) => name.replace(/^model\.language_model\./, 'model.');
    let mergedCount = 0;
    for (const [name, t] of before) {
      const m = after.get(name)!;
      expect({ dtype: m.dtype, shape: m.shape }).toEqual({ dtype: t.dtype, shape: t.shape });
      const raw = await readTensorBytes(t);
      if (!adapted.has(textName(name))) {
        expect(await readTensorBytes(m), name).toEqual(raw);
        continue;
      }
      mergedCount++;
      const want = cpuMerge(toFloat32('F32', raw), lora, textName(name).replace(/\.weight$/, ''));
      const got = toFloat32('F32', await readTensorBytes(m));
      // f32 products and sums: a few f32 roundings (2^-24 each) of the terms' magnitudes.
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / want.magnitude[i]!);
      expect(worst, name).toBeLessThan(1e-6);
    }
    expect(mergedCount).toBe(adapted.size);
  });
});

describe('merge, BF16 base', () => {
  const o: TestModelOptions = { architecture: 'llama', seed: 31, dtype: 'BF16' };

  it('rounds each merged weight once, from the f32 merge', async () => {
    const gpu = await testGpu();
    const files = makeTestModel(o);
    const base = await load(gpu, files, 'auto');
    const { weights: lora } = randomLora(base.cfg, 5, 0.5, 300);
    destroyModel(base);
    const merged = await mergeToMemory(gpu, memoryFiles('base', files), lora);
    const before = await tensorsOf(files);
    const after = await tensorsOf(merged);
    const adapted = weightNames(lora);
    let exactTensors = 0;
    let mismatches = 0;
    let total = 0;
    let doubleRoundingDiffers = 0;
    for (const [name, t] of before) {
      const m = after.get(name)!;
      expect(m.dtype).toBe('BF16');
      const raw = await readTensorBytes(t);
      const got = new Uint16Array((await readTensorBytes(m)).slice().buffer);
      if (!adapted.has(name)) {
        expect(await readTensorBytes(m), name).toEqual(raw);
        continue;
      }
      const w = toFloat32('BF16', raw);
      const exact = cpuMerge(w, lora, name.replace(/\.weight$/, ''));
      const want = new Uint16Array(fromFloat32('BF16', exact).buffer);
      // What merging in bf16 gives: s * B A rounded to bf16 first, then the sum rounded again.
      const delta = toFloat32('BF16', fromFloat32('BF16', exact.map((v, i) => v - w[i]!)));
      const twice = new Uint16Array(fromFloat32('BF16', Float64Array.from(w, (v, i) => v + delta[i]!)).buffer);
      let bad = 0;
      for (let i = 0; i < want.length; i++) {
        if (twice[i] !== want[i]) doubleRoundingDiffers++;
        if (got[i] === want[i]) continue;
        bad++;
        // The GPU sums in f32, the reference in float64: an f32 value within an f32 rounding of a
        // bf16 halfway point may round the other way, one bf16 step at most.
        const a = bf16BitsToF32(got[i]!);
        const e = bf16BitsToF32(want[i]!);
        expect(Math.abs(a - e), `${name}[${i}]`).toBeLessThanOrEqual(Math.abs(e) * 2 ** -7);
      }
      if (bad === 0) exactTensors++;
      mismatches += bad;
      total += want.length;
    }
    expect(exactTensors).toBeGreaterThanOrEqual(1);
    expect(mismatches / total).toBeLessThan(1e-3);
    // The check can tell single from double rounding.
    expect(doubleRoundingDiffers).toBeGreaterThan(0);
  });

  it('the merged bf16 model evaluates like the unmerged one, to bf16 rounding', async () => {
    const gpu = await testGpu();
    const files = makeTestModel(o);
    const base = await load(gpu, files, 'auto');
    const { weights: lora } = randomLora(base.cfg, 5, 2, 400, 0.5);
    destroyModel(base);
    const want = await unmergedLoss(gpu, files, lora, 'auto');
    const merged = await mergeToMemory(gpu, memoryFiles('base', files), lora);
    const got = await lossOf(await load(gpu, merged, 'auto', 'merged'));
    // The merged weights differ from the unmerged W + s B A only by one rounding to bf16, at most
    // 2^-9 relative per weight. Even if every such error pushed the loss the same way it could move
    // by about that much; being of random sign they mostly cancel (measured: 2.4e-4 relative).
    // Bound: 2^-9 (~2e-3). It is tight enough to catch a merge that loses one module of the
    // adapter (checked below: dropping layer 1's down_proj moves the loss by ~5e-3).
    const bound = 2 ** -9;
    const rel = Math.abs(got - want) / Math.abs(want);
    expect(rel).toBeLessThan(bound);
    const partial = { modules: new Map([...lora.modules].filter(([n]) => n !== 'model.layers.1.mlp.down_proj')) };
    const partialLoss = await lossOf(await load(gpu, await mergeToMemory(gpu, memoryFiles('base', files), partial), 'auto', 'partial'));
    expect(Math.abs(partialLoss - want) / Math.abs(want)).toBeGreaterThan(bound);
  });
});

describe('merge: shards, headers, options', () => {
  const o: TestModelOptions = { architecture: 'llama', seed: 41, dtype: 'F32' };

  async function setup() {
    const gpu = await testGpu();
    const files = makeTestModel(o);
    const base = await load(gpu, files, 'f32');
    const { weights: lora } = randomLora(base.cfg, 4, 1, 500);
    destroyModel(base);
    return { gpu, files, lora };
  }

  it('splits into shards of at most maxShardBytes with a valid index, and loads back the same', async () => {
    const { gpu, files, lora } = await setup();
    const maxShardBytes = 20_000;
    const single = await mergeToMemory(gpu, memoryFiles('base', files), lora);
    const names: string[] = [];
    const sharded = new Map<string, Uint8Array>();
    for await (const f of mergedModelFiles(gpu, memoryFiles('base', files), lora, { maxShardBytes })) {
      names.push(f.name);
      sharded.set(f.name, await collectFile(f));
    }
    const shards = names.filter((n) => n.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(2);
    expect(shards).toEqual(shards.map((_, k) => `model-${String(k + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`));
    expect(sharded.has(SINGLE_FILE)).toBe(false);
    expect(names.at(-1)).toBe(INDEX_FILE);

    const index = json(sharded.get(INDEX_FILE)) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    const want = await tensorsOf(single);
    expect(Object.keys(index.weight_map).sort()).toEqual([...want.keys()].sort());
    let total = 0;
    for (const t of want.values()) total += t.info.byteLength;
    expect(index.metadata.total_size).toBe(total);

    for (const s of shards) {
      const h = await readSafetensorsHeader(bytesSource(s, sharded.get(s)!));
      // A tensor larger than the limit (the 420 x 32 embedding, 53 KB) gets a shard of its own.
      if (h.tensors.size > 1) expect(sharded.get(s)!.byteLength, s).toBeLessThanOrEqual(maxShardBytes);
      for (const name of h.tensors.keys()) expect(index.weight_map[name]).toBe(s);
    }
    // Same tensors, same bytes, same order as the single-file merge.
    const got = await tensorsOf(sharded);
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, t] of want) expect(await readTensorBytes(got.get(name)!), name).toEqual(await readTensorBytes(t));

    const a = await lossOf(await load(gpu, single, 'f32', 'single'));
    const b = await lossOf(await load(gpu, sharded, 'f32', 'sharded'));
    expect(b).toBe(a);
  });

  it('writes safetensors the reader accepts: header padded to 8, format pt, no trailing bytes', async () => {
    const { gpu, files, lora } = await setup();
    for (const opts of [{}, { maxShardBytes: 30_000 }, { dtype: 'BF16' }] satisfies MergeOptions[]) {
      const merged = await mergeToMemory(gpu, memoryFiles('base', files), lora, opts);
      for (const [name, bytes] of merged) {
        if (!name.endsWith('.safetensors')) continue;
        const h = await readSafetensorsHeader(bytesSource(name, bytes));
        expect(h.metadata).toEqual({ format: 'pt' });
        const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
        expect(headerLen % 8).toBe(0);
        const end = Math.max(...[...h.tensors.values()].map((t) => t.byteOffset + t.byteLength));
        expect(end).toBe(bytes.byteLength);
      }
    }
  });

  it('dtype BF16 on an F32 model casts every tensor once and updates torch_dtype', async () => {
    const { gpu, files, lora } = await setup();
    const merged = await mergeToMemory(gpu, memoryFiles('base', files), lora, { dtype: 'BF16' });
    const cfgBefore = json(files.get('config.json'));
    const cfgAfter = json(merged.get('config.json'));
    expect(cfgBefore.torch_dtype).toBe('float32');
    expect(cfgAfter).toEqual({ ...cfgBefore, torch_dtype: 'bfloat16' });

    const f32 = await tensorsOf(await mergeToMemory(gpu, memoryFiles('base', files), lora));
    const bf16 = await tensorsOf(merged);
    for (const [name, t] of f32) {
      const m = bf16.get(name)!;
      expect(m.dtype).toBe('BF16');
      // The bf16 file is the f32 merge rounded once.
      expect(await readTensorBytes(m), name).toEqual(fromFloat32('BF16', toFloat32('F32', await readTensorBytes(t))));
    }
    const model = await load(gpu, merged, 'auto', 'merged-bf16');
    expect(model.cfg.vocabSize).toBeGreaterThan(0);
    destroyModel(model);

    // Transformers 5 configs name it `dtype`; asking for the dtype a config already has changes nothing.
    const v5 = makeTestModel({ ...o, ropeParameters: true });
    const v5Merged = await mergeToMemory(gpu, memoryFiles('v5', v5), lora, { dtype: 'F16' });
    expect(json(v5Merged.get('config.json')).dtype).toBe('float16');
    expect(json(v5Merged.get('config.json'))).not.toHaveProperty('torch_dtype');
    const same = await mergeToMemory(gpu, memoryFiles('base', files), lora, { dtype: 'F32' });
    expect(same.get('config.json')).toEqual(files.get('config.json'));
  });

  it('splits a weight larger than one binding into row blocks with the same result', async () => {
    const { gpu, files, lora } = await setup();
    const full = await tensorsOf(await mergeToMemory(gpu, memoryFiles('base', files), lora));
    // 512-byte bindings: W goes through in blocks of 4 rows (2 for down_proj) and A^T in chunks of 32 rows.
    const small: Gpu = { ...gpu, limits: { ...gpu.limits, maxStorageBufferBindingSize: 512 } };
    const blocked = await tensorsOf(await mergeToMemory(small, memoryFiles('base', files), lora));
    for (const [name, t] of full) expect(await readTensorBytes(blocked.get(name)!), name).toEqual(await readTensorBytes(t));
  });

  it('refuses an adapter for another model before yielding anything', async () => {
    const { gpu, files, lora } = await setup();
    const q = lora.modules.get('model.layers.0.self_attn.q_proj')!;
    const cases: LoraWeights[] = [
      { modules: new Map([...lora.modules, ['model.layers.9.self_attn.q_proj', q]]) },
      { modules: new Map([['model.layers.0.self_attn.k_proj', q]]) }, // k_proj is [16, 32], q is [32, 32]
    ];
    for (const bad of cases) {
      const gen = mergedModelFiles(gpu, memoryFiles('base', files), bad);
      await expect(gen.next()).rejects.toBeInstanceOf(TensorError);
    }
    await expect(mergeToMemory(gpu, memoryFiles('base', files), lora, { maxShardBytes: 0 })).rejects.toThrow(/maxShardBytes/);
  });
});
