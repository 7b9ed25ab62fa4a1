// The engine behind the worker's requests: one loaded model on one GPU. It knows nothing of the
// protocol's transport; the handler turns its results and errors into replies.

import type { ModelFiles } from '../formats/byte-source.ts';
import { droppedFiles } from '../formats/browser-files.ts';
import { hubFiles } from '../formats/hub-files.ts';
import { urlFiles } from '../formats/url-files.ts';
import type { Gpu } from '../gpu/device.ts';
import { evaluate } from '../model/evaluate.ts';
import { generateTokens } from '../model/generate.ts';
import { modelInfo } from '../model/info.ts';
import { destroyModel, type LoadedModel, loadModel } from '../model/model.ts';
import type {
  EvaluateRequest,
  EvaluateResult,
  GenerateRequest,
  GenerateResult,
  LoadModelRequest,
  ModelInfoResult,
  ModelSource,
} from '../protocol/messages.ts';

type Progress = (message: string, fraction?: number) => void;

function filesOf(source: ModelSource, progress: Progress): ModelFiles {
  switch (source.kind) {
    case 'url':
      return urlFiles(source.baseUrl, source.name);
    case 'files':
      return droppedFiles(source.files);
    case 'hub':
      return hubFiles({
        repo: source.repo,
        revision: source.revision,
        hubBase: source.hubBase,
        onProgress: ({ file, loaded, total }) =>
          progress(`downloading ${file}: ${(loaded / 2 ** 20).toFixed(1)}${total ? ` / ${(total / 2 ** 20).toFixed(1)}` : ''} MiB`, total ? loaded / total : undefined),
      });
  }
}

export class NoModelError extends Error {
  constructor() {
    super('No model is loaded yet: load a base model first.');
    this.name = 'NoModelError';
  }
}

export class EngineSession {
  private model: LoadedModel | null = null;

  constructor(private readonly gpu: Gpu) {}

  async loadModel(req: LoadModelRequest, progress: Progress): Promise<ModelInfoResult> {
    const files = filesOf(req.source, progress);
    progress(`loading ${files.name}`);
    const next = await loadModel(this.gpu, files, {
      precision: req.precision,
      onProgress: (stage, done, total) => progress(`${stage}: ${Math.round((100 * done) / total)}%`, done / total),
    });
    // The old model stays usable until the new one has loaded.
    if (this.model) destroyModel(this.model);
    this.model = next;
    return modelInfo(next);
  }

  async generate(req: GenerateRequest, progress: Progress): Promise<GenerateResult> {
    const model = this.need();
    const promptTokens = model.tokenizer.encode(req.prompt);
    const start = performance.now();
    const tokens = await generateTokens(model, promptTokens, {
      maxNewTokens: req.maxNewTokens,
      temperature: req.temperature,
      topP: req.topP,
      seed: req.seed,
      onToken: () => progress(`generating: ${Math.round(performance.now() - start)} ms`),
    });
    const seconds = (performance.now() - start) / 1000;
    return {
      text: model.tokenizer.decode(tokens, { skipSpecialTokens: true }),
      tokens,
      promptTokens,
      tokensPerSecond: tokens.length / Math.max(seconds, 1e-9),
    };
  }

  evaluate(req: EvaluateRequest): Promise<EvaluateResult> {
    return evaluate(this.need(), req.rows, { batchSize: req.batchSize });
  }

  dispose(): void {
    if (this.model) destroyModel(this.model);
    this.model = null;
  }

  private need(): LoadedModel {
    if (!this.model) throw new NoModelError();
    return this.model;
  }
}
