// The engine behind the worker's requests: one loaded model on one GPU. It knows nothing of the
// protocol's transport; the handler turns its results and errors into replies.

import type { ModelFiles } from '../formats/byte-source.ts';
import { droppedFiles, droppedModelFiles } from '../formats/browser-files.ts';
import { hubModelFiles, LoadCancelledError } from './model-download.ts';
import { urlFiles } from '../formats/url-files.ts';
import type { Gpu } from '../gpu/device.ts';
import { evaluate } from '../model/evaluate.ts';
import { generateTokens } from '../model/generate.ts';
import { planTrainingMemory } from '../train/memory-plan.ts';
import { modelInfo } from '../model/info.ts';
import { destroyModel, type LoadedModel, loadModel } from '../model/model.ts';
import type {
  BenchRequest,
  BenchResult,
  EvaluateRequest,
  EvaluateResult,
  GenerateRequest,
  GenerateResult,
  DownloadProgress,
  ExportAdapterRequest,
  ExportAdapterResult,
  ExportMergedRequest,
  ExportMergedResult,
  ControlTrainingRequest,
  ImportAdapterRequest,
  ResumeTrainingRequest,
  SavedAdapter,
  UseAdapterRequest,
  InspectDatasetRequest,
  InspectDatasetResult,
  LoadModelRequest,
  ModelInfoResult,
  ModelSource,
  TrainMetrics,
  TrainRequest,
  TrainResult,
} from '../protocol/messages.ts';
import { loadChatTemplate } from '../data/chat-template.ts';
import { encodeChat } from '../data/tokenize.ts';
import { previewRow } from '../data/prepare.ts';
import { FormatError } from '../formats/errors.ts';
import { DEFAULT_LORA, initLora, type LoraConfig, loraConfigFromAdapter, parseTargets } from '../lora/config.ts';
import { destroyLora } from '../lora/gpu-lora.ts';
import { loraTrainable, readLoraWeights, releaseTrainable, type Trainable } from '../train/trainable.ts';
import { zipSync } from 'fflate';
import { loraToGguf } from '../formats/gguf-lora.ts';
import { peftAdapterFiles } from '../formats/peft-write.ts';
import { peftTextRoot } from '../formats/peft-targets.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import { mergedModelFiles } from '../formats/merge.ts';
import { fileToBlob, writeFileToDirectory, writeToDirectory, zipToBlob } from './merged-export.ts';
import { mergedGgufFile } from '../formats/merge-gguf.ts';
import { adapterRecord, baseModelId, CHECKPOINT_EVERY, datasetName, exportName, RunRecorder, summaryOf } from './runs.ts';
import { prepareData } from './dataset-input.ts';
import { NoAdapterError, NoModelError, RunMismatchError } from './errors.ts';
import { type AppRun, type AppStorage, openAppStorage } from '../storage/app.ts';
import { samplePromptIds } from './sample-prompt.ts';
import { StorageError } from '../storage/errors.ts';
import { DeviceLostError } from '../gpu/errors.ts';
import type { TrainState } from '../train/train-state.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readPeftAdapter } from '../formats/peft.ts';
import { memoryFiles } from '../formats/byte-source.ts';
import { zipFiles } from '../formats/zip-files.ts';
import { type GpuLora, uploadLora } from '../lora/gpu-lora.ts';
import { DEFAULT_TRAIN, totalSteps, train, type TrainOptions } from '../train/trainer.ts';

type Progress = (message: string, fraction?: number, metrics?: TrainMetrics, partialText?: string, download?: DownloadProgress) => void;

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

/** Bad rows an inspection lists; the rest are only counted, so a broken file stays a small reply. */
const INSPECT_SKIPPED_SHOWN = 50;
/** Rows an inspection previews. */
const INSPECT_PREVIEW_ROWS = 5;

/** The adapter generation and exports use: one being trained (or just trained), or one from the library. */
interface CurrentAdapter {
  lc: LoraConfig;
  /** Shapes (and, for a library adapter, the weights themselves). */
  shapes: LoraWeights;
  lora: GpuLora;
  trainable: Trainable | null;
  saved: SavedAdapter | null;
}

/** Greedy tokens of the sample generation shown at each validation. */
const SAMPLE_TOKENS = 24;

export class EngineSession {
  private model: LoadedModel | null = null;
  private files: ModelFiles | null = null;
  /** The adapter trained in this session, applied when generating unless asked not to. */
  private current: CurrentAdapter | null = null;
  /** The run in progress, and what the user asked of it. */
  private training: { request: 'pause' | 'stop' | null } | null = null;
  /** A bench request is running: it and a run would share the GPU, and its figures would mean little. */
  private benching = false;
  private opened: Promise<{ storage: AppStorage | null; problem: string | null }> | null = null;

  constructor(private readonly gpu: Gpu) {}

  /** `signal` cancels the load (an AbortError); the model loaded before stays loaded either way. */
  async loadModel(req: LoadModelRequest, progress: Progress, signal?: AbortSignal): Promise<ModelInfoResult> {
    const files = filesOf(req.source, progress, signal);
    progress(`loading ${files.name}`);
    const cancelled = () => new LoadCancelledError(files.name, this.model?.name ?? null);
    const next = await loadModel(this.gpu, files, {
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
    this.dropAdapter();
    if (this.model) destroyModel(this.model);
    this.model = next;
    this.files = files;
    return modelInfo(next, { gguf: files.gguf !== undefined });
  }

  async generate(req: GenerateRequest, progress: Progress): Promise<GenerateResult> {
    const model = this.need();
    model.lora = req.useAdapter === false ? null : (this.current?.lora ?? null);
    const promptTokens = req.chat ? await this.chatPrompt(req.prompt, progress) : model.tokenizer.encode(req.prompt);
    const start = performance.now();
    const sofar: number[] = [];
    let sent = '';
    const tokens = await generateTokens(model, promptTokens, {
      maxNewTokens: req.maxNewTokens,
      temperature: req.temperature,
      topP: req.topP,
      seed: req.seed,
      onToken: (id) => {
        sofar.push(id);
        // A character whose bytes span several tokens decodes to U+FFFD until its last byte comes;
        // holding it back keeps each partial text a prefix of the next.
        sent = model.tokenizer.decode(sofar, { skipSpecialTokens: true }).replace(/\uFFFD+$/, '');
        progress(`generating: ${sofar.length} tokens, ${Math.round(performance.now() - start)} ms`, undefined, undefined, sent);
      },
    });
    const seconds = (performance.now() - start) / 1000;
    const text = model.tokenizer.decode(tokens, { skipSpecialTokens: true });
    // Generation cut off inside a character: the held-back U+FFFD is part of the result after all.
    if (text !== sent) progress(`generated ${tokens.length} tokens`, undefined, undefined, text);
    return { text, tokens, promptTokens, tokensPerSecond: tokens.length / Math.max(seconds, 1e-9) };
  }

  /** The prompt as one user turn through the model's chat template, ready for the assistant's answer. */
  private async chatPrompt(prompt: string, progress: Progress): Promise<number[]> {
    const template = await loadChatTemplate(this.files!);
    if (template.source === 'chatml-fallback') progress(`warning: the model has no chat template, so the prompt is formatted with ChatML (${template.origin})`);
    return encodeChat([{ role: 'user', content: prompt }], template, this.need().tokenizer, true);
  }

  evaluate(req: EvaluateRequest): Promise<EvaluateResult> {
    return evaluate(this.need(), req.rows, { batchSize: req.batchSize });
  }

  async train(req: TrainRequest, progress: Progress): Promise<TrainResult> {
    const model = this.need();
    const { storage, problem } = await this.storage();
    const now = Date.now();
    const name = datasetName(req.dataset);
    const run: AppRun = {
      id: crypto.randomUUID(), name: `${name} r${req.settings.rank}`, createdAt: now, updatedAt: now, baseModel: baseModelId(model), dataset: name,
      settings: { train: req.settings, dataset: req.dataset }, status: 'running', step: 0, totalSteps: 0, metrics: [],
    };
    return this.runTraining(new RunRecorder(storage, run, (w) => progress(`warning: ${w}`)), null, problem, progress);
  }

  async resumeTraining(req: ResumeTrainingRequest, progress: Progress): Promise<TrainResult> {
    const model = this.need();
    const { storage, problem } = await this.storage();
    if (!storage) throw new StorageError('resume', `run ${req.runId}`, `Saved runs are not available here: ${problem}`);
    const run = await storage.getRun(req.runId);
    if (!run) throw new StorageError('resume', `run ${req.runId}`, 'This run is no longer saved (it may have been deleted).');
    if (run.baseModel !== baseModelId(model)) {
      throw new RunMismatchError(`The run "${run.name}" was trained on ${run.baseModel}, but ${baseModelId(model)} is loaded: load ${run.baseModel} first, then resume.`);
    }
    const ckpt = await storage.getCheckpoint(run.id);
    if (!ckpt) throw new RunMismatchError(`The run "${run.name}" has no checkpoint to resume from (it ${run.status === 'finished' ? 'has finished' : 'stopped before its first one'}).`);
    progress(`resuming "${run.name}" from step ${ckpt.step}`);
    // Some structured-clone implementations keep a stored File only as a Blob; its name is in the run.
    const d = run.settings.dataset;
    if (d.kind === 'file') run.settings = { ...run.settings, dataset: { kind: 'file', file: new File([d.file], run.dataset) } };
    return this.runTraining(new RunRecorder(storage, run, (w) => progress(`warning: ${w}`)), ckpt.state, problem, progress);
  }

  /** Pause or stop the run in progress after its current step. */
  controlTraining(req: ControlTrainingRequest): { accepted: boolean } {
    if (!this.training) return { accepted: false };
    this.training.request = req.action;
    return { accepted: true };
  }

  private async runTraining(recorder: RunRecorder, resume: TrainState | null, storageProblem: string | null, progress: Progress): Promise<TrainResult> {
    const model = this.need();
    const run = recorder.run;
    const s = run.settings.train;
    if (this.training) throw new RunMismatchError('A run is already training: pause or stop it first.');
    if (this.benching) throw new RunMismatchError('The benchmark is running: wait for it to finish, then train.');
    const control: { request: 'pause' | 'stop' | null } = { request: null };
    this.training = control;
    // Buffers an earlier run, evaluation or chat left for reuse are not this run's: its memory and
    // its peak start from the model alone.
    model.gpu.pool.trim();
    model.gpu.pool.resetPeak();
    try {
      const { prepared, seqLen, train: rows, val } = await prepareData(this.need(), this.files!, run.settings.dataset, s, progress);
      for (const w of prepared.warnings) progress(`warning: ${w}`);
      const lc: LoraConfig = { ...DEFAULT_LORA, rank: s.rank, alpha: s.alpha, dropout: s.dropout, rslora: s.rslora, targets: parseTargets(s.targets) };
      this.dropAdapter();
      model.lora = null;
      const opts: TrainOptions = {
        ...DEFAULT_TRAIN, lr: s.lr, schedule: s.schedule, warmup: s.warmup, steps: s.steps > 0 ? s.steps : undefined, epochs: s.epochs,
        batchSize: s.batchSize, gradAccum: s.gradAccum, seqLen, seed: s.seed, dropout: s.dropout, evalEvery: s.evalEvery,
        checkpointEvery: CHECKPOINT_EVERY, ...(resume ? { resume } : {}),
      };
      const planBytes = planTrainingMemory(model.cfg, {
        weightBytes: model.weights.bytes, lora: lc, B: s.batchSize, T: seqLen, checkpointing: opts.checkpointing ? 'on' : 'off',
      }).total;
      opts.memoryBudget = planBytes;
      const total = totalSteps(rows.length, opts);
      const report = (message: string, fraction: number | undefined, m: TrainMetrics) => {
        recorder.point(m);
        progress(message, fraction, m);
      };
      let valLossBefore: number | null;
      if (resume) {
        valLossBefore = run.metrics.find((p) => p.step === 0 && p.valLoss !== undefined)?.valLoss ?? null;
        progress(`resuming at step ${resume.step} of ${total}`, resume.step / total, { runId: run.id, step: resume.step, totalSteps: total });
      } else {
        valLossBefore = val.length ? (await evaluate(model, val, { seqLen, batchSize: s.batchSize })).loss : null;
        run.totalSteps = total;
        await recorder.start();
        report(valLossBefore === null ? 'training' : `validation loss before training ${valLossBefore.toFixed(4)}`, 0, {
          runId: run.id, step: 0, totalSteps: total, ...(valLossBefore === null ? {} : { valLoss: valLossBefore }),
        });
      }
      const shapes = initLora(model.cfg, lc, s.seed);
      const trainable = loraTrainable(model.gpu, shapes);
      this.current = { lc, shapes, trainable, lora: trainable.lora!, saved: null };
      const sampleIds = samplePromptIds(val[0] ?? rows[0]!);
      const samplePrompt = model.tokenizer.decode(sampleIds, { skipSpecialTokens: true });
      let result;
      try {
        result = await train(model, trainable, rows, val.length ? val : null, opts, {
          onStep: (r) => report(`step ${r.step}/${r.totalSteps}: loss ${r.loss.toFixed(4)}`, r.step / r.totalSteps, {
            step: r.step, totalSteps: r.totalSteps, loss: r.loss, lr: r.lr, tokensPerSecond: r.tokensPerSecond, etaMs: r.etaMs, peakBytes: r.peakBytes,
            epoch: (r.step * s.batchSize * s.gradAccum) / rows.length, elapsedMs: r.elapsedMs,
          }),
          onEval: async (r) => {
            const tokens = await generateTokens(model, sampleIds, { maxNewTokens: SAMPLE_TOKENS, temperature: 0 });
            const sample = { prompt: samplePrompt, text: model.tokenizer.decode(tokens, { skipSpecialTokens: true }) };
            report(`validation loss ${r.valLoss.toFixed(4)} at step ${r.step}`, undefined, { step: r.step, totalSteps: total, valLoss: r.valLoss, sample });
          },
          shouldStop: () => control.request !== null,
          // Without storage a checkpoint would be read back from the GPU only to be dropped.
          ...(recorder.storage ? { onCheckpoint: (state: TrainState) => recorder.checkpoint(state, control.request === 'pause' ? 'paused' : 'running') } : {}),
        });
      } catch (e) {
        const lost = model.gpu.lostReason;
        const err = lost
          ? new DeviceLostError(lost, recorder.savedStep > 0
            ? `Training stopped; the run is saved at step ${recorder.savedStep}: load the model again and press Resume to continue from there.`
            : 'Training stopped before its first checkpoint: load the model again and start the run anew.')
          : (e as Error);
        await recorder.fail(err.message).catch(() => undefined);
        throw err;
      }
      const status = !result.stopped ? 'finished' : control.request === 'pause' ? 'paused' : 'stopped';
      let adapterId: string | null = null;
      if (status !== 'paused') {
        const weights = await readLoraWeights(model.gpu, trainable, shapes);
        const record = adapterRecord({
          name: run.name, baseModel: run.baseModel, textRoot: peftTextRoot(model.cfg), lc, weights, runId: run.id,
          finalValLoss: result.valHistory.at(-1)?.valLoss ?? null, bestValLoss: result.bestValLoss,
        });
        await recorder.finish(status, result.steps, recorder.storage ? record : null);
        if (recorder.storage) {
          adapterId = record.id;
          this.current.saved = summaryOf(record);
        }
      }
      return {
        runId: run.id, status, adapterId, storageProblem,
        steps: result.steps, trainableParameters: trainable.count, valLossBefore, valLossAfter: result.bestValLoss,
        losses: result.losses, peakBytes: result.peakBytes, planBytes, elapsedMs: result.elapsedMs, trainRows: rows.length, valRows: val.length,
      };
    } finally {
      this.training = null;
      // The run's activations are sized for its batches, not for what the tab does next.
      model.gpu.pool.trim();
    }
  }

  /** `tabtune bench` on this GPU. It builds its own model; the loaded model and adapter stay as they are. */
  async bench(req: BenchRequest, progress: Progress): Promise<BenchResult> {
    if (this.training) throw new RunMismatchError('A run is training: pause or stop it before running the benchmark (both would share the GPU, and neither would be measured fairly).');
    if (this.benching) throw new RunMismatchError('The benchmark is already running.');
    this.benching = true;
    try {
      const { runWorkerBench } = await import('./bench.ts');
      return await runWorkerBench(this.gpu, req, (line) => progress(line));
    } finally {
      this.benching = false;
    }
  }

  /** What `train` would do with this dataset and these settings: statistics, bad rows, a preview. */
  async inspectDataset(req: InspectDatasetRequest, progress: Progress): Promise<InspectDatasetResult> {
    const model = this.need();
    const { name, read, prepared, train: rows, val } = await prepareData(this.need(), this.files!, req.dataset, req.settings, progress);
    // Both lists are in file order on their own; the user fixes the file top to bottom.
    const skipped = [...read.skipped, ...prepared.skipped].sort((a, b) => a.line - b.line);
    // prepare's warnings count only its own skips; rows the reader passed over are dropped by training too.
    const warnings = read.skipped.length > 0
      ? [...prepared.warnings, `${read.skipped.length} bad row${read.skipped.length === 1 ? ' is' : 's are'} skipped: training leaves ${read.skipped.length === 1 ? 'it' : 'them'} out.`]
      : prepared.warnings;
    return {
      name,
      format: read.format,
      examples: read.examples.length,
      stats: prepared.stats,
      trainRows: rows.length,
      valRows: val.length,
      skipped: skipped.slice(0, INSPECT_SKIPPED_SHOWN).map(({ line, message }) => ({ line, message })),
      skippedTotal: skipped.length,
      warnings,
      preview: prepared.rows.slice(0, INSPECT_PREVIEW_ROWS).map((row) => ({
        source: row.source ?? '',
        tokens: row.inputIds.length,
        segments: previewRow(row, model.tokenizer),
      })),
    };
  }

  /** The trained adapter as a PEFT zip or a GGUF LoRA, read back from the GPU. */
  async exportAdapter(req: ExportAdapterRequest): Promise<ExportAdapterResult> {
    const { model, lc, weights } = await this.trainedAdapter();
    const base = baseModelId(model);
    const name = exportName(base, `lora-r${lc.rank}`);
    if (req.format === 'gguf') {
      return { fileName: `${name}.gguf`, mimeType: 'application/octet-stream', bytes: loraToGguf(model.cfg, lc, weights) };
    }
    const files = peftAdapterFiles(lc, weights, base, 'F32', peftTextRoot(model.cfg));
    return { fileName: `${name}.zip`, mimeType: 'application/zip', bytes: zipSync(Object.fromEntries(files), { level: 0 }) };
  }

  /** The base model with the adapter merged in, streamed one tensor at a time to a folder or a zip. */
  async exportMerged(req: ExportMergedRequest, progress: Progress): Promise<ExportMergedResult> {
    const { model, lc, weights } = await this.trainedAdapter();
    const name = exportName(baseModelId(model), `merged-r${lc.rank}`);
    const onProgress = (done: number, total: number) => progress(`merging: ${Math.round((100 * done) / Math.max(1, total))}%`, done / Math.max(1, total));
    if (req.format === 'gguf') {
      const type = req.dtype === 'F16' ? 'F16' : 'same';
      const file = await mergedGgufFile(model.gpu, this.files!, weights, { name: `${name}.gguf`, type, onProgress });
      if (req.target.kind === 'directory') return { name: file.name, ...(await writeFileToDirectory(req.target.handle, file)) };
      return { name: file.name, ...(await fileToBlob(file)) };
    }
    if (req.target.kind === 'zip') {
      // Zips past 4 GB need ZIP64, which the zip writer lacks; a picked folder has no such limit.
      const bytes = modelInfo(model).parameters * (req.dtype === 'F32' ? 4 : 2);
      if (bytes > 4e9) throw new FormatError(name, `would be about ${(bytes / 1e9).toFixed(1)} GB, too large for a zip; use a browser that can save to a folder (Chrome or Edge) or the tabtune merge command`);
    }
    const files = mergedModelFiles(model.gpu, this.files!, weights, {
      dtype: req.dtype,
      onProgress,
    });
    if (req.target.kind === 'directory') return { name, ...(await writeToDirectory(req.target.handle, name, files)) };
    return { name: `${name}.zip`, ...(await zipToBlob(name, files)) };
  }

  /** Applies a saved adapter from the library (or none): the playground and the exports use it. */
  async useAdapter(req: UseAdapterRequest): Promise<SavedAdapter | null> {
    const model = this.need();
    if (this.training) throw new RunMismatchError('A run is training: pause or stop it before switching adapters.');
    if (req.adapterId === null) {
      this.dropAdapter();
      return null;
    }
    const { storage, problem } = await this.storage();
    const record = await storage?.getAdapter(req.adapterId);
    if (!record) throw new StorageError('load', `adapter ${req.adapterId}`, problem ?? 'This adapter is no longer saved (it may have been deleted).');
    const files = new Map([[ADAPTER_CONFIG, new TextEncoder().encode(record.files.configJson)], [ADAPTER_WEIGHTS, record.files.safetensors]]);
    const { config, weights } = await readPeftAdapter(memoryFiles(record.name, files), model.cfg);
    this.dropAdapter();
    const lc = loraConfigFromAdapter(model.cfg, config, weights);
    this.current = { lc, shapes: weights, trainable: null, lora: uploadLora(model.gpu, weights), saved: summaryOf(record) };
    return this.current.saved;
  }

  /** Checks a PEFT adapter (folder files or a zip) against the loaded model and saves it in the library. */
  async importAdapter(req: ImportAdapterRequest): Promise<SavedAdapter> {
    const model = this.need();
    const { storage, problem } = await this.storage();
    if (!storage) throw new StorageError('import', 'the adapter', `Saved adapters are not available here: ${problem}`);
    const zip = req.files.length === 1 && req.files[0]!.name.toLowerCase().endsWith('.zip') ? req.files[0]! : null;
    const files = zip ? zipFiles(zip.name, new Uint8Array(await zip.arrayBuffer())) : droppedFiles(req.files, 'the dropped adapter folder');
    const { config, weights } = await readPeftAdapter(files, model.cfg);
    const lc = loraConfigFromAdapter(model.cfg, config, weights);
    const folder = zip ? zip.name.replace(/\.zip$/i, '') : (req.files[0]?.webkitRelativePath.split('/')[0] || 'imported adapter');
    const record = adapterRecord({ name: folder, baseModel: baseModelId(model), textRoot: peftTextRoot(model.cfg), lc, weights, finalValLoss: null, bestValLoss: null });
    await storage.putAdapter(record);
    return summaryOf(record);
  }

  private async trainedAdapter(): Promise<{ model: LoadedModel; lc: LoraConfig; weights: LoraWeights }> {
    const model = this.need();
    const c = this.current;
    if (!c) throw new NoAdapterError();
    return { model, lc: c.lc, weights: c.trainable ? await readLoraWeights(model.gpu, c.trainable, c.shapes) : c.shapes };
  }

  private storage(): Promise<{ storage: AppStorage | null; problem: string | null }> {
    this.opened ??= openAppStorage();
    return this.opened;
  }

  dispose(): void {
    this.dropAdapter();
    if (this.model) destroyModel(this.model);
    this.model = null;
  }

  private dropAdapter(): void {
    const c = this.current;
    if (c && this.model) {
      if (this.model.lora === c.lora) this.model.lora = null;
      destroyLora(this.model.gpu, c.lora);
      if (c.trainable) releaseTrainable(this.model.gpu, c.trainable);
    }
    this.current = null;
  }

  private need(): LoadedModel {
    if (!this.model) throw new NoModelError();
    return this.model;
  }
}
