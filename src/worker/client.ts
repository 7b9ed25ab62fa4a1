// Main-thread side of the engine worker: starts it, numbers requests, turns error replies into
// thrown EngineErrors, and fails pending requests if the worker itself dies (comlink would hang).

import { proxy, releaseProxy, wrap } from 'comlink';
import type { EngineApi, ErrorReply, ProgressReply, ProgressSink, Request, RequestKind, ResultOf } from '../protocol/messages.ts';

/** An error reply from the worker, thrown on the UI side. `name` is the worker-side error class. */
export class EngineError extends Error {
  constructor(readonly reply: ErrorReply) {
    super(reply.message);
    this.name = reply.name;
  }
}

/** The worker could not start or crashed (script failed to load, uncaught error). */
export class WorkerFailedError extends Error {
  constructor(detail: string) {
    super(`The engine worker stopped: ${detail}. Reload the page; if it persists, see the browser console.`);
    this.name = 'WorkerFailedError';
  }
}

export type RequestBody<K extends RequestKind> = Omit<Extract<Request, { kind: K }>, 'id'>;

export interface EngineClient {
  request<K extends RequestKind>(body: RequestBody<K>, onProgress?: ProgressSink): Promise<ResultOf[K]>;
  terminate(): void;
}

export function startEngineWorker(): Worker {
  return new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'tabtune-engine' });
}

export function connectEngine(worker: Worker): EngineClient {
  const remote = wrap<EngineApi>(worker);
  let nextId = 1;
  let failure: Error | null = null;
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (ev: ErrorEvent) => {
      failure = new WorkerFailedError(ev.message || 'the worker script failed to load');
      reject(failure);
    });
  });
  failed.catch(() => undefined); // observed per request below

  return {
    async request<K extends RequestKind>(body: RequestBody<K>, onProgress?: ProgressSink): Promise<ResultOf[K]> {
      if (failure) throw failure;
      const req = { ...body, id: nextId++ } as Request;
      // Progress comes through its own channel (the proxy's port) and can arrive after the final
      // reply; callers never see it then, so none of them has to guard against it.
      let settled = false;
      const sink = onProgress && ((p: ProgressReply) => (settled ? undefined : onProgress(p)));
      try {
        const reply = await Promise.race([remote.handle(req, sink ? proxy(sink) : undefined), failed]);
        if (reply.type === 'error') throw new EngineError(reply);
        return reply.value as ResultOf[K];
      } finally {
        settled = true;
      }
    },
    terminate() {
      remote[releaseProxy]();
      worker.terminate();
    },
  };
}
