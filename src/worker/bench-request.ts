// The `bench` request: `tabtune bench` on the worker's GPU, never alongside a training run (both
// would share the GPU, and neither would be measured fairly). It builds its own model; the loaded
// model and adapter stay as they are. bench.ts, with TensorFlow.js behind it, is loaded only now.

import type { BenchRequest, BenchResult } from '../protocol/messages.ts';
import type { EngineContext, Progress } from './context.ts';
import { RunMismatchError } from './errors.ts';

export async function bench(ctx: EngineContext, req: BenchRequest, progress: Progress): Promise<BenchResult> {
  if (ctx.training) throw new RunMismatchError('A run is training: pause or stop it before running the benchmark (both would share the GPU, and neither would be measured fairly).');
  if (ctx.benching) throw new RunMismatchError('The benchmark is already running.');
  ctx.benching = true;
  try {
    const { runWorkerBench } = await import('./bench.ts');
    return await runWorkerBench(ctx.gpu, req, (line) => progress(line));
  } finally {
    ctx.benching = false;
  }
}
