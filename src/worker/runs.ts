// How training runs outlive the tab: the run record (settings, dataset, chart history), its latest
// checkpoint and the adapter it produced, in IndexedDB. The chart history is saved together with
// each checkpoint and only up to its step, so after a reload the curve ends exactly where Resume
// picks up and the resumed steps draw the same curve on.

import type { LoraConfig } from '../lora/config.ts';
import type { LoraWeights } from '../lora/adapter.ts';
import { peftAdapterFiles } from '../formats/peft-write.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../formats/peft.ts';
import type { DatasetSource, SavedAdapter, TrainMetrics } from '../protocol/messages.ts';
import type { AppRun, AppStorage } from '../storage/app.ts';
import { StorageFullError } from '../storage/errors.ts';
import type { AdapterRecord, MetricPoint, RunStatus } from '../storage/types.ts';
import type { LoadedModel } from '../model/model.ts';
import type { TrainState } from '../train/train-state.ts';

/** Steps between checkpoints (besides those at pause, stop and the end). */
export const CHECKPOINT_EVERY = 10;

export function datasetName(d: DatasetSource): string {
  return d.kind === 'url' ? d.name : d.file.name;
}

export function metricPoint(m: TrainMetrics): MetricPoint {
  return { step: m.step, loss: m.loss, valLoss: m.valLoss, lr: m.lr, tokensPerSecond: m.tokensPerSecond };
}

/**
 * Saves a run's progress as the engine reports it: chart points are held until a checkpoint covers
 * them. A full disk does not end the training: the user is told, and the last good save stays.
 */
export class RunRecorder {
  private pending: MetricPoint[] = [];
  /** The step of the last checkpoint saved (0: none yet, or resumed from `run.step`). */
  savedStep: number;

  constructor(
    readonly storage: AppStorage | null,
    readonly run: AppRun,
    private readonly warn: (message: string) => void,
  ) {
    this.savedStep = storage ? run.step : 0;
  }

  point(m: TrainMetrics): void {
    if (m.loss !== undefined || m.valLoss !== undefined) this.pending.push(metricPoint(m));
  }

  async start(): Promise<void> {
    await this.guard(() => this.storage?.putRun(this.run));
  }

  async checkpoint(state: TrainState, status: RunStatus): Promise<void> {
    await this.guard(async () => {
      if (!this.storage) return;
      await this.storage.putCheckpoint({ runId: this.run.id, step: state.step, savedAt: Date.now(), state });
      await this.flush(state.step);
      await this.storage.updateRun(this.run.id, { status, step: state.step });
      this.savedStep = state.step;
    });
  }

  /** The run's end: every point saved, the adapter in the library, the checkpoint dropped. */
  async finish(status: RunStatus, step: number, adapter: AdapterRecord | null): Promise<void> {
    await this.guard(async () => {
      if (!this.storage) return;
      if (adapter) await this.storage.putAdapter(adapter);
      await this.flush(Infinity);
      await this.storage.updateRun(this.run.id, { status, step, ...(adapter ? { adapterId: adapter.id } : {}) });
      if (status === 'finished' || status === 'stopped') await this.storage.deleteCheckpoint(this.run.id);
    });
  }

  async fail(message: string): Promise<void> {
    await this.guard(() => this.storage?.updateRun(this.run.id, { status: 'failed', error: message }));
  }

  private async flush(upTo: number): Promise<void> {
    const points = this.pending.filter((p) => p.step <= upTo);
    await this.storage!.appendMetrics(this.run.id, points);
    this.pending = this.pending.filter((p) => p.step > upTo);
  }

  private async guard(save: () => Promise<unknown> | undefined): Promise<void> {
    try {
      await save();
    } catch (e) {
      if (!(e instanceof StorageFullError)) throw e;
      this.warn(e.message);
    }
  }
}

/** A library entry for an adapter: its PEFT files and what the list shows. */
export function adapterRecord(o: {
  name: string;
  baseModel: string;
  /** Where peft finds the text model in the base (peftTextRoot). */
  textRoot: string;
  lc: LoraConfig;
  weights: LoraWeights;
  runId?: string;
  finalValLoss: number | null;
  bestValLoss: number | null;
}): AdapterRecord {
  const files = peftAdapterFiles(o.lc, o.weights, o.baseModel, 'F32', o.textRoot);
  return {
    id: crypto.randomUUID(),
    name: o.name,
    baseModel: o.baseModel,
    rank: o.lc.rank,
    alpha: o.lc.alpha,
    targets: [...o.lc.targets],
    createdAt: Date.now(),
    ...(o.runId ? { runId: o.runId } : {}),
    finalValLoss: o.finalValLoss,
    bestValLoss: o.bestValLoss,
    files: { configJson: new TextDecoder().decode(files.get(ADAPTER_CONFIG)!), safetensors: files.get(ADAPTER_WEIGHTS)! },
  };
}

export function summaryOf(r: AdapterRecord): SavedAdapter {
  const { files: _files, ...summary } = r;
  return summary;
}

/** The repo id or folder name of the base model, as PEFT's base_model_name_or_path wants it. */
export function baseModelId(model: LoadedModel): string {
  return model.name.replace(/ \(bundled\)$/, '');
}

/** A download name that says model, what it is (with the rank) and the date: kjv-llama-lora-r8-2026-11-29. */
export function exportName(base: string, what: string): string {
  const model = base.split('/').pop()!.replace(/[^\w.-]+/g, '_');
  return `${model}-${what}-${new Date().toISOString().slice(0, 10)}`;
}
