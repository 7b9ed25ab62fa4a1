// LoRA gradients of the WGSL engine against the float64 reference backward (itself checked by
// finite differences), for every architecture, with adapters on all seven projections, and with
// adapters on a few modules (where the backward stops early).

import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { LINEAR_MODULES, type LinearModule, linearName } from '../../src/model/params.ts';
import { layerBackwardPlan } from '../../src/train/backward-plan.ts';
import { logitsBlockCount } from '../../src/model/lm-head.ts';
import { loadReferenceWeights } from '../../src/model/reference.ts';
import { referenceLoraGrads } from '../../src/model/reference-grad.ts';
import type { TestModelOptions } from '../../src/model/test-model.ts';
import { datasetGradients, readLoraGrads } from '../../src/train/gradients.ts';
import { loraTrainable } from '../../src/train/trainable.ts';
import { testGpu } from '../helpers/gpu.ts';
import { randomLora } from '../helpers/lora.ts';
import { loadTestModel } from '../helpers/model.ts';

const ARCHS: TestModelOptions[] = [
  { architecture: 'llama', seed: 31 },
  { architecture: 'llama', seed: 32, ropeScaling: 'llama3', attentionBias: true, mlpBias: true, headDim: 12 },
  { architecture: 'mistral', seed: 33, slidingWindow: 3 },
  { architecture: 'qwen2', seed: 34, tied: true },
  { architecture: 'qwen3', seed: 35, headDim: 16, numKvHeads: 1 },
];

const ROWS = [
  { inputIds: [5, 17, 200, 33, 9, 120, 64, 3, 77, 12, 301] },
  { inputIds: [40, 41, 42, 43, 44, 45, 46], labels: [-100, -100, -100, 43, 44, 45, 46] },
  { inputIds: [1, 300, 2, 250, 251] },
];

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Largest |got - want| relative to the tensor's largest |want|. */
function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i]! - want[i]!));
  return e / Math.max(maxAbs(want), 1e-12);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe.each([
  ['f32', 'F32', 'f32'],
  ['bf16', 'BF16', 'auto'],
] as const)('LoRA gradients, %s weights, against the float64 reference', (name, dtype, precision) => {
  it.each(ARCHS)('$architecture (seed $seed): every lora_A and lora_B', async (o) => {
    const gpu = await testGpu();
    const { files, model } = await loadTestModel(gpu, { ...o, dtype }, precision);
    const { weights, ref } = randomLora(model.cfg, 3, 1.5, 100 + (o.seed ?? 0));
    const trainable = loraTrainable(gpu, weights);
    const got = await datasetGradients(model, trainable, ROWS, { seqLen: 64, batchSize: 2 });
    const grads = await readLoraGrads(model, trainable, weights);
    const want = referenceLoraGrads(model.cfg, loadReferenceWeights(files), ROWS, ref);
    expect(got.tokens).toBe(want.tokens);
    expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(name === 'f32' ? 1e-5 : 2e-3);
    const report: string[] = [];
    for (const [module, g] of grads) {
      for (const [which, gg, ww] of [['A', g.a, want.gradA.get(module)!], ['B', g.b, want.gradB.get(module)!]] as const) {
        expect(maxAbs(ww), `${module}.${which} reference gradient is not zero`).toBeGreaterThan(0);
        if (name === 'f32') {
          const e = relError(gg, ww);
          if (e > 1e-3) report.push(`${module}.lora_${which}: relative error ${e.toExponential(2)}`);
        } else {
          const c = cosine(gg, ww);
          if (c < 0.999) report.push(`${module}.lora_${which}: cosine ${c.toFixed(5)}`);
        }
      }
    }
    expect(grads.size).toBe(model.cfg.numLayers * 7);
    expect(report, report.join('\n')).toEqual([]);
  });
});

describe('LoRA gradients with the LM head in several chunks', () => {
  it('equal the float64 reference when the loss walks several logits blocks (its second pass recomputes them)', async () => {
    const real = await testGpu();
    // Small bindings: the [V, H] head is uploaded in 128-row chunks, so the logits come in several blocks.
    const gpu: Gpu = { ...real, limits: { ...real.limits, maxStorageBufferBindingSize: 16384 } };
    const o: TestModelOptions = { architecture: 'llama', seed: 36, dtype: 'F32' };
    const { files, model } = await loadTestModel(gpu, o, 'f32');
    expect(logitsBlockCount(gpu, model.weights.lmHead, 2 * 11)).toBeGreaterThan(1);
    const { weights, ref } = randomLora(model.cfg, 3, 1.5, 136);
    const trainable = loraTrainable(gpu, weights);
    const got = await datasetGradients(model, trainable, ROWS, { seqLen: 64, batchSize: 2 });
    const grads = await readLoraGrads(model, trainable, weights);
    const want = referenceLoraGrads(model.cfg, loadReferenceWeights(files), ROWS, ref);
    expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(1e-5);
    const report: string[] = [];
    for (const [module, g] of grads) {
      for (const [which, gg, ww] of [['A', g.a, want.gradA.get(module)!], ['B', g.b, want.gradB.get(module)!]] as const) {
        const e = relError(gg, ww);
        if (e > 1e-3) report.push(`${module}.lora_${which}: relative error ${e.toExponential(2)}`);
      }
    }
    expect(report, report.join('\n')).toEqual([]);
  });
});

describe('LoRA gradients with adapters on some modules only', () => {
  // The backward stops at the earliest adapted module (src/train/backward-plan.ts): the skipped
  // products must change no gradient, and exactly the plan's frozen input-gradient products must run.
  const CASES: { name: string; modules: string[] }[] = [
    { name: 'layer 0 v_proj and layer 2 q_proj', modules: ['model.layers.0.self_attn.v_proj', 'model.layers.2.self_attn.q_proj'] },
    { name: 'layer 1 o_proj only', modules: ['model.layers.1.self_attn.o_proj'] },
    { name: 'layer 1 MLP only', modules: ['model.layers.1.mlp.gate_proj', 'model.layers.1.mlp.up_proj', 'model.layers.1.mlp.down_proj'] },
    { name: 'layer 2 down_proj only', modules: ['model.layers.2.mlp.down_proj'] },
  ];
  it.each(CASES)('$name', async ({ modules }) => {
    const gpu = await testGpu();
    const { files, model } = await loadTestModel(gpu, { architecture: 'llama', seed: 41, dtype: 'BF16', numLayers: 3 }, 'auto');
    const { weights, ref } = randomLora(model.cfg, 3, 1.5, 141);
    for (const name of [...weights.modules.keys()]) {
      if (modules.includes(name)) continue;
      weights.modules.delete(name);
      ref.a.delete(name);
      ref.b.delete(name);
    }
    expect(weights.modules.size).toBe(modules.length);
    const trainable = loraTrainable(gpu, weights);
    // Frozen weights are bf16 here, so their input-gradient products are told apart by pipeline name.
    const frozenInputGrads: string[] = [];
    Recorder.onDispatch = (d) => {
      if (/^matmul_input_grad\d*_bf16/.test(d.pipeline.label)) frozenInputGrads.push(d.pipeline.label);
    };
    let got: Awaited<ReturnType<typeof datasetGradients>>;
    try {
      got = await datasetGradients(model, trainable, ROWS.slice(0, 1), { seqLen: 64, batchSize: 1 });
    } finally {
      Recorder.onDispatch = null;
    }
    const grads = await readLoraGrads(model, trainable, weights);
    const want = referenceLoraGrads(model.cfg, loadReferenceWeights(files), ROWS.slice(0, 1), ref);
    expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(2e-3);
    for (const [module, g] of grads) {
      expect(cosine(g.a, want.gradA.get(module)!), `${module}.lora_A`).toBeGreaterThan(0.999);
      expect(cosine(g.b, want.gradB.get(module)!), `${module}.lora_B`).toBeGreaterThan(0.999);
    }
    // One product for the LM head, then what each layer from the top down to the lowest adapter needs.
    const lowest = Math.min(...modules.map((n) => Number(n.split('.')[2])));
    let expected = 1;
    for (let l = lowest; l < model.cfg.numLayers; l++) {
      expected += layerBackwardPlan((m) => weights.modules.has(linearName(l, m)), l > lowest).inputGradOf.size;
    }
    expect(frozenInputGrads).toHaveLength(expected);
  });
});

describe('layerBackwardPlan', () => {
  const only = (...ms: LinearModule[]) => (m: LinearModule) => ms.includes(m);
  it('runs everything when a layer below needs the gradient', () => {
    const p = layerBackwardPlan(only(), true);
    expect([...p.inputGradOf].sort()).toEqual([...LINEAR_MODULES].sort());
    expect(p).toMatchObject({ inputGrad: true, residualGrad: true, attention: true });
  });
  it('in the lowest adapted layer stops at the earliest adapted module', () => {
    expect([...layerBackwardPlan(only('q_proj'), false).inputGradOf].sort()).toEqual(['down_proj', 'gate_proj', 'o_proj', 'up_proj']);
    expect([...layerBackwardPlan(only('o_proj'), false).inputGradOf].sort()).toEqual(['down_proj', 'gate_proj', 'up_proj']);
    expect([...layerBackwardPlan(only('up_proj'), false).inputGradOf]).toEqual(['down_proj']);
    expect([...layerBackwardPlan(only('down_proj'), false).inputGradOf]).toEqual([]);
    expect(layerBackwardPlan(only('o_proj'), false)).toMatchObject({ inputGrad: false, residualGrad: true, attention: false });
  });
});
