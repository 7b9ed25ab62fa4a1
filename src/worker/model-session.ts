// The `loadModel` request and unloading: which files a model source names (the app's server, dropped
// files, the hub), putting the weights on the GPU, and swapping the new model in for the old one
// only once it has loaded. Cancelling keeps the model loaded before.

import { droppedModelFiles } from '../formats/browser-files.ts';
import type { ModelFiles } from '../formats/byte-source.ts';
import { urlFiles } from '../formats/url-files.ts';
import { modelInfo } from '../model/info.ts';
import { destroyModel, loadModel as loadWeights } from '../model/model.ts';
import type { LoadModelRequest, ModelInfoResult, ModelSource } from '../protocol/messages.ts';
import { dropAdapter, type EngineContext, type Progress } from './context.ts';
import { hubModelFiles, LoadCancelledError } from './model-download.ts';

function filesOf(source: ModelSource, progress: Progress, signal?: AbortSignal): ModelFiles {
  switch (source.kind) {
    case 'url':
      return urlFiles(source.baseUrl, source.name);
    case 'files':
      return droppedModelFiles(source.files);
    case 'hub':
      return hubModelFiles(source, (m, fraction, d) => progress(m, fraction, undefined, undefined, d), (w) => progress(`warning: ${w}`), signal);
  }
}

/** `signal` cancels the load (an AbortError); the model loaded before stays loaded either way. */
export async function loadModel(ctx: EngineContext, req: LoadModelRequest, progress: Progress, signal?: AbortSignal): Promise<ModelInfoResult> {
  const files = filesOf(req.source, progress, signal);
  progress(`loading ${files.name}`);
  const cancelled = () => new LoadCancelledError(files.name, ctx.loaded?.model.name ?? null);
  const next = await loadWeights(ctx.gpu, files, {
    precision: req.precision,
    onProgress: (stage, done, total) => progress(`${stage}: ${Math.round((100 * done) / total)}%`, done / total),
  }).catch((e: unknown) => {
    throw signal?.aborted ? cancelled() : e;
  });
  // Cancelled after the download, while the weights went up: the new model is not wanted.
  if (signal?.aborted) {
    destroyModel(next);
    throw cancelled();
  }
  // The old model stays usable until the new one has loaded.
  unloadModel(ctx);
  ctx.loaded = { model: next, files };
  return modelInfo(next, { gguf: files.gguf !== undefined });
}

/** Frees the adapter in use and the model's GPU buffers (the worker's dispose). */
export function unloadModel(ctx: EngineContext): void {
  dropAdapter(ctx);
  if (ctx.loaded) destroyModel(ctx.loaded.model);
  ctx.loaded = null;
}
