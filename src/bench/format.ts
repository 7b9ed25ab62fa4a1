// The human-readable form of a BenchReport (`tabtune bench` without --json).

import { describeAdapter } from '../gpu/device.ts';
import { formatBytes } from '../util/format.ts';
import type { BenchReport } from './report.ts';
import { layoutName } from '../gpu/tuning.ts';

const f = (x: number | null, digits = 2) => (x === null ? '-' : x.toFixed(digits));
const g = (flops: number) => `${(flops / 1e9).toFixed(2)} GFLOP`;

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

export function formatReport(r: BenchReport): string {
  const d = r.device;
  const out: string[] = [
    `device: ${describeAdapter(d)}; shader-f16 ${d.shaderF16 ? 'yes' : 'no'}${d.software ? '; a software adapter: absolute figures say little, ratios do' : ''}`,
    `runtime: ${r.runtime}; tabtune ${r.tabtune}${r.quick ? '; --quick sizes' : ''}`,
  ];
  const t = r.tuning;
  const timings = (l: { layout: string; ms: number }[]) => l.map((x) => `${x.layout} ${f(x.ms)} ms`).join(', ');
  out.push(
    '',
    `autotune (${t.shape.M}x${t.shape.N}x${t.shape.K}, f16 weights, ${f(t.tookMs, 0)} ms): forward ${layoutName(t.chosen.forward)}; input gradient ${layoutName(t.chosen.inputGrad)}`,
    `  forward: ${timings(t.forward)}`,
    `  input gradient: ${timings(t.inputGrad)}`,
  );
  if (r.matmul) {
    const m = r.matmul;
    const how = m.tfjs.layout === 'nn' ? 'tf.matMul(x, w) with w pre-transposed' : 'tf.matMul(x, w, false, true)';
    out.push('', `matmul Y = X @ W^T, GFLOP/s (best of ${m.trials} trials); ratio = ours / TensorFlow.js WebGPU (${how}, f32)`);
    if (m.tfjs.error) out.push(`TensorFlow.js: ${m.tfjs.error}`);
    out.push(
      ...table(
        ['model', 'proj', 'm x n x k', 'weights', 'ours', 'tfjs', 'ratio'],
        m.rows.map((x) => [x.model, x.proj, `${x.m}x${x.n}x${x.k}`, x.dtype, f(x.oursGflops), f(x.tfjsGflops), f(x.ratio)]),
      ),
      `our best ${f(m.bestOursGflops)} GFLOP/s; ratio ours/tfjs: lowest ${f(m.minRatio)}, geometric mean ${f(m.geomeanRatio)}`,
    );
  }
  if (r.train) {
    const t = r.train;
    const fl = t.flops;
    out.push(
      '',
      `LoRA training step: r=${t.lora.rank} on ${t.lora.targets.join(',')}, ${t.batch} x ${t.seqLen} tokens, checkpointing ${t.checkpointing ? 'on' : 'off'}`,
      `  model: ${t.model.name} (${t.model.weightDtype} weights)`,
      `  step ${f(t.stepMs, 0)} ms (best of ${t.timedSteps} after ${t.warmupSteps} warm-up; mean ${f(t.meanStepMs, 0)} ms), ${f(t.tokensPerSecond, 1)} tokens/s, final loss ${f(t.finalLoss, 3)}`,
      `  useful work ${g(fl.useful)}: frozen forward ${g(fl.frozenForward)}, input-gradients ${g(fl.frozenInputGrad)}, LoRA ${g(fl.lora)}, attention ${g(fl.attention)} (recomputed, not counted: ${g(fl.recompute)})`,
      `  ${f(t.usefulGflops)} useful GFLOP/s = step efficiency ${f(100 * t.efficiency, 1)}% of our best matmul (${f(t.referenceGflops)} GFLOP/s: ${t.referenceSource})`,
    );
    if (t.matmulBestGflops !== null) out.push(`  (${f(100 * t.efficiencyVsMatmulBest!, 1)}% of the matmul scenario's best, ${f(t.matmulBestGflops)} GFLOP/s)`);
    const tj = t.tfjs;
    if (tj.error !== null) out.push(`  TensorFlow.js LoRA step: not measured (${tj.error})`);
    else {
      out.push(
        `  TensorFlow.js LoRA step (autodiff, f32 weights): ${f(tj.stepMs, 0)} ms (best of ${tj.timedSteps}; mean ${f(tj.meanStepMs, 0)} ms), ${f(tj.tokensPerSecond, 1)} tokens/s = ${f(tj.slowdown)}x our step time`,
        `  first-step loss ${f(tj.firstLoss, 5)} vs ours ${f(tj.oursFirstLoss, 5)}: relative difference ${tj.lossRelDiff === null ? '-' : tj.lossRelDiff.toExponential(1)} (gradient norm ${tj.gradNormRelDiff === null ? '-' : tj.gradNormRelDiff.toExponential(1)})`,
      );
    }
  }
  if (r.memory) {
    const m = r.memory;
    const p = m.plan;
    out.push(
      `  memory: measured peak ${formatBytes(m.peakBytes)} vs plan ${formatBytes(p.total)} (weights ${formatBytes(p.weights)}, LoRA state ${formatBytes(p.trainable)}, activations ${formatBytes(p.activations)}): ${f(m.ratio)}x`,
      `  memory, rows of varied length (${m.variedSteps} steps): peak ${formatBytes(m.variedPeakBytes)} vs plan ${formatBytes(m.variedPlanBytes)}: ${f(m.variedRatio)}x, ${f(m.variedTokensPerSecond, 1)} tokens/s`,
    );
  }
  if (r.decode) {
    const dc = r.decode;
    out.push('', `decode (KV cache, ${dc.model.name}): prefill ${f(dc.prefillMs, 0)} ms for ${dc.promptTokens} tokens, then ${f(dc.msPerToken, 1)} ms/token = ${f(dc.tokensPerSecond, 1)} tokens/s`);
  }
  out.push('', `took ${(r.elapsedMs / 1000).toFixed(1)} s`);
  return out.join('\n');
}
