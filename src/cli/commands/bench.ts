// tabtune bench: our kernels against TensorFlow.js on this device, a LoRA training step and decode
// speed; one JSON object with --json (keys in src/bench/report.ts, documented in README.md).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { formatReport } from '../../bench/format.ts';
import { SCENARIOS, type ScenarioName } from '../../bench/report.ts';
import { runBench } from '../../bench/run.ts';
import { nodeTfjs } from '../../bench/tfjs-node.ts';
import { createNodeGpu } from '../../gpu/node-gpu.ts';
import { testTokenizerSize } from '../../model/test-model.ts';
import { num, optionalString, parse, UsageError } from '../args.ts';

export const BENCH_HELP = `tabtune bench [--json] [--scenario matmul|train|decode|all] [--quick]
  Measures this device: our matmul against TensorFlow.js WebGPU on SmolLM2-135M and Qwen2.5-0.5B
  projections (512 tokens), a LoRA training step (r=8 on q,k,v,o, 256 tokens) with its efficiency
  and peak memory, and decode tokens/s with the KV cache. Progress goes to stderr.
  --scenario LIST          matmul, train, decode or all (default all); a comma list runs several
  --quick                  small sizes: seconds instead of minutes (a smoke test, not a measurement)
  --json                   print one JSON object (keys documented in README.md) instead of tables
  --trials N               timed matmul trials per implementation and shape (default 3)
  --layers N               layers of the SmolLM2-shaped train/decode model (default 2; the real one has 30)
  --vocab N                its vocabulary (default: the test tokenizer's ~400 ids; the real one has 49152)
  --no-tfjs                skip TensorFlow.js (matmul then reports our figures only)
  --tfjs-layout nt|nn      nt (default): tf.matMul(x, w, false, true), w [out, in] as checkpoints store it;
                           nn: tf.matMul(x, w) with w transposed to [in, out] beforehand`;

function scenariosOf(spec: string): ScenarioName[] {
  const names = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.includes('all')) return [...SCENARIOS];
  const bad = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
  if (bad.length || names.length === 0) throw new UsageError(`--scenario must be ${SCENARIOS.join(', ')} or all, got "${spec}"`);
  return SCENARIOS.filter((s) => names.includes(s));
}

function packageVersion(spec: string): string {
  try {
    const require = createRequire(import.meta.url);
    const path = spec === 'tabtune' ? new URL('../../../package.json', import.meta.url) : require.resolve(`${spec}/package.json`);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function benchCommand(argv: string[]): Promise<number> {
  const v = parse(argv, {
    json: { type: 'boolean' },
    scenario: { type: 'string' },
    quick: { type: 'boolean' },
    trials: { type: 'string' },
    layers: { type: 'string' },
    vocab: { type: 'string' },
    'no-tfjs': { type: 'boolean' },
    'tfjs-layout': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    console.log(BENCH_HELP);
    return 0;
  }
  const scenarios = scenariosOf(optionalString(v, 'scenario') ?? 'all');
  const trials = num(v, 'trials', 3, { int: true, min: 1, max: 100 });
  const layers = num(v, 'layers', 2, { int: true, min: 1, max: 64 });
  const minVocab = Math.ceil(testTokenizerSize() / 4) * 4;
  const vocab = v.vocab === undefined ? undefined : num(v, 'vocab', minVocab, { int: true, min: minVocab, max: 1 << 20 });
  if (vocab !== undefined && vocab % 4 !== 0) throw new UsageError(`--vocab must be a multiple of 4, got ${vocab}`);
  const tfjsLayout = optionalString(v, 'tfjs-layout') ?? 'nt';
  if (tfjsLayout !== 'nt' && tfjsLayout !== 'nn') throw new UsageError(`--tfjs-layout must be nt or nn, got "${tfjsLayout}"`);
  const gpu = await createNodeGpu();
  try {
    const report = await runBench(gpu, {
      scenarios,
      quick: v.quick === true,
      trials,
      layers,
      vocab,
      tfjs: v['no-tfjs'] !== true,
      tfjsLayout,
      tfjsLoader: nodeTfjs,
      tabtune: packageVersion('tabtune'),
      runtime: `node ${process.version} (Dawn, npm webgpu ${packageVersion('webgpu')})`,
      onProgress: (line) => console.error(line),
    });
    console.log(v.json ? JSON.stringify(report) : formatReport(report));
  } finally {
    gpu.destroy();
  }
  return 0;
}
