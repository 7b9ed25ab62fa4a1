// The worker's request handler: sends each protocol request to the one module that owns it and
// turns its result or failure into one final reply. It never throws; every failure becomes an error
// reply carrying the error's name and message. The GPU comes from an injected opener so tests can
// run it in Node (Dawn) or with a fake.
//
// Who owns what: model-session.ts loads the model; generation.ts generates and evaluates;
// training.ts trains, resumes and pauses runs; dataset-input.ts inspects datasets; adapters.ts uses
// and imports saved adapters; exports.ts exports them; bench-request.ts runs the benchmark;
// hub-plan.ts lists and plans hub models. context.ts holds what they share.

import { createGpu, type Gpu } from '../gpu/device.ts';
import type { EngineApi, ErrorReply, FinalReply, InitRequest, InitResult, ProgressSink, Request, RequestKind, ResultOf, ResultReply } from '../protocol/messages.ts';
import { tuneMatmul } from '../kernels/autotune.ts';
import { browserTuningCache } from '../storage/tuning-cache.ts';
import { importAdapter, useAdapter } from './adapters.ts';
import { bench } from './bench-request.ts';
import { createEngineContext, type EngineContext, type Progress } from './context.ts';
import { inspectDataset } from './dataset-input.ts';
import { exportAdapter, exportMerged } from './exports.ts';
import { evaluate, generate } from './generation.ts';
import { HubPlanner } from './hub-plan.ts';
import { loadModel, unloadModel } from './model-session.ts';
import { controlTraining, resumeTraining, train } from './training.ts';

/** The GPU the handler drives; protocol-only tests pass a fake that never reaches the engine. */
export type HandlerGpu = Gpu;

export interface HandlerDeps {
  /** Opens the GPU. Default: `createGpu(navigator.gpu)` (the worker's own navigator). */
  openGpu?: (opts: { allowF16?: boolean }) => Promise<HandlerGpu>;
  /** Picks the kernels' work layouts on a newly opened GPU. Default: tuneMatmul, cached in Cache Storage. */
  tune?: (gpu: HandlerGpu) => Promise<{ cached: boolean }>;
}

export interface Handler extends EngineApi {
  /** Releases the GPU, if open; resolves once it is destroyed. */
  dispose(): Promise<void>;
}

/** Every request kind, checked by the compiler against the protocol's Request union. */
const KINDS: Record<RequestKind, true> = { init: true, loadModel: true, generate: true, evaluate: true, train: true, inspectDataset: true, exportAdapter: true, exportMerged: true,
  resumeTraining: true, controlTraining: true, useAdapter: true, importAdapter: true, cancel: true, bench: true,
  listHubFiles: true, planModel: true,
};
const KNOWN_KINDS = Object.keys(KINDS);

export function createHandler(deps: HandlerDeps = {}): Handler {
  const openGpu = deps.openGpu ?? ((opts) => createGpu(globalThis.navigator?.gpu, opts));
  const tune = deps.tune ?? ((g: HandlerGpu) => tuneMatmul(g, browserTuningCache()));
  let gpu: Promise<HandlerGpu> | null = null;
  let tuningNote = '';

  async function init(req: InitRequest, progress: (message: string) => void): Promise<InitResult> {
    // Concurrent or repeated init requests share one device; a failed attempt may be retried.
    if (!gpu) progress('requesting a WebGPU adapter and device');
    gpu ??= openGpu({ allowF16: req.allowF16 })
      .then(async (g) => {
        progress('choosing the matmul layouts for this GPU');
        // A failed measurement leaves the default layouts: slower perhaps, never wrong.
        tuningNote = await tune(g).then(
          (r) => (r.cached ? 'matmul layouts kept from an earlier visit' : 'matmul layouts timed on this GPU'),
          (e: unknown) => `matmul layouts: the defaults, as timing them failed (${(e as Error).message})`,
        );
        return g;
      })
      .catch((e: unknown) => {
        gpu = null;
        throw e;
      });
    const g = await gpu;
    return { adapter: { ...g.adapter }, f16: g.f16, limits: { ...g.limits }, tuning: structuredClone(g.tuning), tuningNote };
  }

  /** The engine's shared state on the open GPU (opened by an implicit `init` if need be). */
  let context: EngineContext | null = null;
  async function engine(progress: (message: string) => void): Promise<EngineContext> {
    const g = await (gpu ?? init({ kind: 'init', id: -1 }, progress).then(() => gpu!));
    context ??= createEngineContext(g);
    return context;
  }

  /** Looks at hub repos before a download; needs no GPU, so it never waits for one. */
  const planner = new HubPlanner();

  /** Requests that a `cancel` can abort, by id. */
  const cancellable = new Map<number, AbortController>();

  async function run(req: Request, onProgress: ProgressSink | undefined): Promise<ResultOf[RequestKind]> {
    const progress: Progress = (message, fraction, metrics, partialText, download) => {
      if (!onProgress) return;
      try {
        // Through comlink the sink is a proxy whose call returns a promise; a UI that went away
        // must not break the work, so its failures are ignored.
        const r: unknown = onProgress({
          type: 'progress', id: req.id, kind: req.kind, message,
          ...(fraction === undefined ? {} : { fraction }), ...(metrics ? { metrics } : {}), ...(partialText === undefined ? {} : { partialText }),
          ...(download ? { download } : {}),
        });
        if (r instanceof Promise) r.catch(() => undefined);
      } catch {
        // as above
      }
    };
    switch (req.kind) {
      case 'init':
        return init(req, progress);
      case 'loadModel': {
        const controller = new AbortController();
        cancellable.set(req.id, controller);
        try {
          return await loadModel(await engine(progress), req, progress, controller.signal);
        } finally {
          cancellable.delete(req.id);
        }
      }
      case 'cancel': {
        const target = cancellable.get(req.targetId);
        target?.abort(new DOMException('The download was cancelled.', 'AbortError'));
        return { cancelled: target !== undefined };
      }
      case 'generate':
        return generate(await engine(progress), req, progress);
      case 'evaluate':
        return evaluate(await engine(progress), req);
      case 'train':
        return train(await engine(progress), req, progress);
      case 'inspectDataset':
        return inspectDataset(await engine(progress), req, progress);
      case 'exportAdapter':
        return exportAdapter(await engine(progress), req);
      case 'exportMerged':
        return exportMerged(await engine(progress), req, progress);
      case 'resumeTraining':
        return resumeTraining(await engine(progress), req, progress);
      case 'controlTraining':
        return controlTraining(await engine(progress), req);
      case 'useAdapter':
        return useAdapter(await engine(progress), req);
      case 'importAdapter':
        return importAdapter(await engine(progress), req);
      case 'bench':
        return bench(await engine(progress), req, progress);
      case 'listHubFiles':
        return planner.list(req);
      case 'planModel':
        return planner.plan(req);
    }
  }

  return {
    async handle(request: Request, onProgress?: ProgressSink): Promise<FinalReply> {
      const raw: unknown = request;
      const id = isRecord(raw) && typeof raw.id === 'number' ? raw.id : -1;
      const kind = isRecord(raw) && typeof raw.kind === 'string' ? raw.kind : String(isRecord(raw) ? raw.kind : raw);
      if (!isRecord(raw) || typeof raw.kind !== 'string' || typeof raw.id !== 'number') {
        return errorReply(id, kind, 'ProtocolError', `malformed request: need { kind: string, id: number }, got ${describe(raw)}`);
      }
      if (!Object.hasOwn(KINDS, raw.kind)) {
        return errorReply(id, kind, 'ProtocolError', `unknown request kind "${kind}" (the worker knows: ${KNOWN_KINDS.join(', ')})`);
      }
      try {
        const value = await run(request, onProgress);
        const reply: ResultReply = { type: 'result', id, kind: request.kind, value };
        return reply;
      } catch (e) {
        // A lost device cannot be used again: the next request opens a new one (and needs a model loaded again).
        const opened = await gpu?.catch(() => null);
        if (opened?.lostReason) {
          context = null;
          gpu = null;
        }
        const err = e instanceof Error ? e : new Error(String(e));
        return errorReply(id, kind, err.name || 'Error', err.message || String(e));
      }
    },
    async dispose() {
      if (context) unloadModel(context);
      context = null;
      const g = gpu;
      gpu = null;
      const opened = await g?.catch(() => null);
      opened?.destroy();
    },
  };
}

function errorReply(id: number, kind: string, name: string, message: string): ErrorReply {
  return { type: 'error', id, kind, name, message };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

function describe(x: unknown): string {
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}
