// The `bench` request: `tabtune bench` (src/bench/run.ts) on the worker's own GPU, with TensorFlow.js
// loaded the browser's way. bench-request.ts imports this file lazily, so neither the bench code nor
// TensorFlow.js is part of the worker's first load.

import { version } from '../../package.json';
import { SCENARIOS, type BenchReport, type ScenarioName } from '../bench/report.ts';
import { runBench } from '../bench/run.ts';
import { browserTfjs } from '../bench/tfjs-browser.ts';
import type { Gpu } from '../gpu/device.ts';
import type { BenchRequest } from '../protocol/messages.ts';

export class BenchSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchSettingsError';
  }
}

/** The request's scenarios in the CLI's order; requests come through an untyped channel, so checked here. */
export function benchScenarios(req: BenchRequest): ScenarioName[] {
  const asked: unknown = req.scenarios;
  if (asked === undefined) return [...SCENARIOS];
  const names = Array.isArray(asked) ? (asked as unknown[]) : [];
  const bad = names.filter((n) => !(SCENARIOS as readonly unknown[]).includes(n));
  if (!Array.isArray(asked) || names.length === 0 || bad.length) {
    throw new BenchSettingsError(`scenarios must be a non-empty list of ${SCENARIOS.join(', ')}, got ${JSON.stringify(asked)}`);
  }
  return SCENARIOS.filter((s) => names.includes(s));
}

export function runWorkerBench(gpu: Gpu, req: BenchRequest, onProgress: (line: string) => void): Promise<BenchReport> {
  return runBench(gpu, {
    scenarios: benchScenarios(req),
    quick: req.quick === true,
    tfjsLoader: browserTfjs,
    tabtune: version,
    runtime: `browser worker: ${globalThis.navigator?.userAgent ?? 'unknown'}`,
    onProgress,
  });
}
