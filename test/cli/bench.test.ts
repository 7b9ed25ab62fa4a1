// tabtune bench as a user runs it, at --quick sizes: one JSON object with the documented keys,
// every figure finite and positive. No timing thresholds: speed is reported, not tested here.

import { describe, expect, it } from 'vitest';
import { layoutName } from '../../src/gpu/tuning.ts';
import { lastJson, runCli } from '../helpers/cli.ts';

type Obj = Record<string, unknown>;

function positive(o: Obj, keys: string[], where: string): void {
  for (const k of keys) {
    const v = o[k];
    expect(typeof v, `${where}.${k}`).toBe('number');
    expect(Number.isFinite(v) && (v as number) > 0, `${where}.${k} = ${String(v)}`).toBe(true);
  }
}

function strings(o: Obj, keys: string[], where: string): void {
  for (const k of keys) expect(typeof o[k], `${where}.${k}`).toBe('string');
}

describe('tabtune bench', () => {
  it('prints one JSON object with every scenario at --quick sizes', async () => {
    const r = await runCli(['bench', '--quick', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const out = lastJson(r);
    expect(Object.keys(out).sort()).toEqual(
      ['decode', 'device', 'elapsedMs', 'format', 'matmul', 'memory', 'quick', 'runtime', 'scenarios', 'startedAt', 'tabtune', 'train', 'tuning'].sort(),
    );
    expect(out.format).toBe(1);
    expect(out.quick).toBe(true);
    expect(out.scenarios).toEqual(['matmul', 'train', 'decode']);
    positive(out, ['elapsedMs'], 'report');

    const device = out.device as Obj;
    strings(device, ['vendor', 'architecture', 'device', 'description'], 'device');
    expect(typeof device.shaderF16).toBe('boolean');
    expect(typeof device.software).toBe('boolean');
    positive(device, ['maxBufferSize', 'maxStorageBufferBindingSize'], 'device');

    // The start-up autotune: every candidate timed, and the fastest chosen.
    const tuning = out.tuning as Obj;
    expect(tuning.adapter).toBe([device.vendor, device.architecture, device.description || device.device].filter(Boolean).join(' | '));
    positive(tuning, ['version', 'tookMs'], 'tuning');
    positive(tuning.shape as Obj, ['M', 'N', 'K'], 'tuning.shape');
    const chosen = tuning.chosen as { forward: Obj; inputGrad: Obj };
    for (const kernel of ['forward', 'inputGrad'] as const) {
      const timings = tuning[kernel] as { layout: string; ms: number }[];
      expect(timings.length, `tuning.${kernel}`).toBeGreaterThanOrEqual(kernel === 'forward' ? 2 : 3);
      timings.forEach((t, i) => {
        strings(t, ['layout'], `tuning.${kernel}[${i}]`);
        positive(t, ['ms'], `tuning.${kernel}[${i}]`);
      });
      positive(chosen[kernel], ['wgX', 'wgY'], `tuning.chosen.${kernel}`);
      // The chosen layout is the fastest timed.
      const best = timings.reduce((a, b) => (b.ms < a.ms ? b : a));
      expect(best.layout).toBe(layoutName(chosen[kernel] as never));
    }

    const matmul = out.matmul as Obj;
    const rows = matmul.rows as Obj[];
    // The quick shape's q/o, k/v, gate/up and down projections, each with f32 and f16 weights.
    expect(rows).toHaveLength(8);
    expect(new Set(rows.map((x) => x.dtype))).toEqual(new Set(['f32', 'f16']));
    const tfjs = matmul.tfjs as Obj;
    expect(tfjs.error).toBeNull();
    expect(tfjs.layout).toBe('nt');
    expect(tfjs.version).toMatch(/^tfjs-core 4\./);
    for (const [i, row] of rows.entries()) {
      strings(row, ['model', 'proj'], `rows[${i}]`);
      positive(row, ['m', 'n', 'k', 'oursMs', 'oursGflops', 'tfjsMs', 'tfjsGflops', 'ratio'], `rows[${i}]`);
      expect(row.ratio as number).toBeCloseTo((row.oursGflops as number) / (row.tfjsGflops as number), 6);
      // Both implementations computed the same product (f16 weights round to ~1e-3).
      expect(row.maxRelDiff as number, `rows[${i}].maxRelDiff`).toBeLessThan(row.dtype === 'f32' ? 1e-4 : 1e-2);
    }
    positive(matmul, ['bestOursGflops', 'minRatio', 'geomeanRatio', 'trials'], 'matmul');

    const train = out.train as Obj;
    positive(train, ['batch', 'seqLen', 'timedSteps', 'warmupSteps', 'stepMs', 'meanStepMs', 'tokensPerSecond', 'usefulGflops', 'referenceGflops', 'efficiency', 'finalLoss'], 'train');
    strings(train, ['referenceSource'], 'train');
    expect(train.lora).toMatchObject({ rank: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] });
    const model = train.model as Obj;
    strings(model, ['name', 'basedOn', 'weightDtype'], 'train.model');
    positive(model, ['layers', 'hidden', 'intermediate', 'heads', 'kvHeads', 'headDim', 'vocab', 'params', 'weightBytes'], 'train.model');
    const flops = train.flops as Obj;
    positive(flops, ['frozenForward', 'frozenInputGrad', 'lora', 'attention', 'useful'], 'train.flops');
    // Work done twice: the layers recomputed by checkpointing; none when the step keeps its
    // activations and the logits fit one block (quick sizes do).
    if (train.checkpointing) positive(flops, ['recompute'], 'train.flops');
    else expect(flops.recompute, 'train.flops.recompute').toBe(0);
    const parts = ['frozenForward', 'frozenInputGrad', 'lora', 'attention'].reduce((s, k) => s + (flops[k] as number), 0);
    expect(flops.useful).toBe(parts);
    expect(train.stepMs as number).toBeLessThanOrEqual(train.meanStepMs as number);
    expect(train.efficiency as number).toBeCloseTo((train.usefulGflops as number) / (train.referenceGflops as number), 9);
    positive(train, ['matmulBestGflops', 'efficiencyVsMatmulBest'], 'train');
    expect(train.matmulBestGflops).toBe(matmul.bestOursGflops);

    // The same LoRA step written with TensorFlow.js autodiff: it ran, its figures are finite, and it
    // computed the same model (first-step loss and gradient norm as ours, before any update).
    const tj = train.tfjs as Obj;
    expect(tj.error, 'train.tfjs.error').toBeNull();
    expect(tj.version).toMatch(/^tfjs-core 4\./);
    expect(tj.weightDtype).toBe('f32');
    strings(tj, ['how'], 'train.tfjs');
    expect(tj.timedSteps).toBe(train.timedSteps);
    expect(tj.warmupSteps).toBe(train.warmupSteps);
    positive(tj, ['stepMs', 'meanStepMs', 'tokensPerSecond', 'slowdown', 'firstLoss', 'oursFirstLoss'], 'train.tfjs');
    expect(tj.stepMs as number).toBeLessThanOrEqual(tj.meanStepMs as number);
    expect(tj.slowdown as number).toBeCloseTo((tj.stepMs as number) / (train.stepMs as number), 9);
    for (const k of ['lossRelDiff', 'gradNormRelDiff']) {
      expect(Number.isFinite(tj[k]), `train.tfjs.${k} = ${String(tj[k])}`).toBe(true);
      expect(tj[k] as number, `train.tfjs.${k}`).toBeLessThan(1e-3);
    }
    expect(tj.lossRelDiff).toBeCloseTo(Math.abs((tj.firstLoss as number) - (tj.oursFirstLoss as number)) / (tj.oursFirstLoss as number), 12);
    expect(tj.tensorGrowth, 'TensorFlow.js tensors leaked between steps').toBe(0);

    // The same step on a Q4_K base: it ran, its frozen weights take at most 0.32x the 16-bit bytes
    // (deterministic; the step time ratio is a measurement, reported, not asserted here).
    expect(train.quantizedError, 'train.quantizedError').toBeNull();
    const q = train.quantized as Obj;
    expect(q.baseWeights).toBe('q4_k');
    positive(q, ['stepMs', 'baselineStepMs', 'slowdown', 'weightBytes', 'baselineWeightBytes', 'weightRatio', 'firstLoss'], 'train.quantized');
    expect(q.baselineWeightBytes).toBe(model.weightBytes);
    expect(q.weightRatio as number).toBeLessThanOrEqual(0.32);
    expect(q.slowdown).toBeCloseTo((q.stepMs as number) / (q.baselineStepMs as number), 9);
    expect(Object.keys(q.weightDtypes as Obj).every((d) => d.startsWith('Q'))).toBe(true);

    const memory = out.memory as Obj;
    positive(memory, ['peakBytes', 'ratio', 'variedSteps', 'variedPeakBytes', 'variedPlanBytes', 'variedRatio', 'variedTokensPerSecond'], 'memory');
    // Rows of varied length stay within the plan made for the longest (memory is deterministic).
    expect(memory.variedRatio as number).toBeLessThanOrEqual(1.25);
    expect(memory.variedRatio).toBeCloseTo((memory.variedPeakBytes as number) / (memory.variedPlanBytes as number), 12);
    positive(memory.plan as Obj, ['weights', 'trainable', 'activations', 'total'], 'memory.plan');
    // The memory figure is the plan's minimum: checkpointed activations, whatever the timed steps did.
    expect((memory.plan as Obj).checkpointing).toBe(true);

    const decode = out.decode as Obj;
    positive(decode, ['promptTokens', 'newTokens', 'prefillMs', 'msPerToken', 'tokensPerSecond'], 'decode');
    expect(decode.model).toEqual(model);
  });

  it('runs one scenario alone, leaving the others null, and prints tables without --json (and without TensorFlow.js)', async () => {
    const r = await runCli(['bench', '--quick', '--scenario', 'train', '--layers', '1', '--no-tfjs']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/LoRA training step/);
    expect(r.stdout).toMatch(/step efficiency/);
    expect(r.stdout).toMatch(/TensorFlow\.js LoRA step: not measured \(disabled\)/);
    expect(r.stdout).not.toMatch(/^matmul/m);
    const j = await runCli(['bench', '--quick', '--scenario', 'decode', '--json']);
    expect(j.code, j.stderr).toBe(0);
    const out = lastJson(j);
    expect(out.matmul).toBeNull();
    expect(out.train).toBeNull();
    expect(out.memory).toBeNull();
    positive(out.decode as Obj, ['tokensPerSecond'], 'decode');
  });

  it('rejects an unknown scenario with a usage error', async () => {
    const r = await runCli(['bench', '--scenario', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--scenario must be matmul, train, decode or all/);
  });
});
