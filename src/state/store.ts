// The app's state: a framework-free zustand store (fed by the start-up code and worker replies)
// and a thin React hook over it. Components read from here; they never talk to the GPU.

import { useStore } from 'zustand';
import { createStore } from 'zustand/vanilla';
import type { AdapterInfo, DownloadProgress, GpuLimitsInfo, InspectDatasetResult, ModelInfoResult, TrainMetrics, TrainResult, TrainSettings } from '../protocol/messages.ts';
import { QUICK_PRESET } from './presets.ts';
import type { KernelTuning } from '../gpu/tuning.ts';

/**
 * checking: looking for WebGPU (main thread, then the worker's adapter)
 * ready: the worker holds a device
 * unsupported: this browser or machine offers no WebGPU adapter
 * failed: something else went wrong (worker crashed, device request failed)
 */
export type DeviceStatus = 'checking' | 'ready' | 'unsupported' | 'failed';

export interface LogEntry {
  /** ms since the epoch */
  time: number;
  level: 'info' | 'warn' | 'error';
  text: string;
}

export interface AppState {
  status: DeviceStatus;
  adapter: AdapterInfo | null;
  f16: boolean | null;
  limits: GpuLimitsInfo | null;
  /** The kernels' work layouts the worker chose for this GPU. */
  tuning: KernelTuning | null;
  /** Why the status is unsupported / failed, for the user. */
  problem: string | null;
  log: LogEntry[];
  /** The base model in the worker, and what is happening to it. */
  model: ModelInfoResult | null;
  modelStatus: 'none' | 'loading' | 'ready' | 'error';
  /** The current load's progress message, or why it failed. */
  modelMessage: string | null;
  /** A hub model's files, in the order the current (or last) load fetched them, each as last reported. */
  modelDownloads: DownloadProgress[];
  training: TrainingState;
  /** The settings the next run will use (the form edits them). */
  settings: TrainSettings;
  dataset: DatasetChoice;
  inspection: DatasetInspection;
}

/** The dataset the next run trains on: a sample the app serves (public/datasets), or a file the user picked or dropped. */
export type DatasetChoice = { kind: 'sample'; file: string } | { kind: 'file'; file: File };

/** The first sample (ui/samples.ts): the one a first run trains on. */
export const DEFAULT_DATASET: DatasetChoice = { kind: 'sample', file: 'verily.jsonl' };

/** What the worker made of the chosen dataset with the current settings (see DatasetPanel). */
export interface DatasetInspection {
  status: 'idle' | 'inspecting' | 'ready' | 'error';
  /** The last good result; kept while a new inspection runs so the panel does not flicker. */
  result: InspectDatasetResult | null;
  /** Why the last inspection failed. */
  message: string | null;
}

export interface TrainingState {
  /** paused: the run waits in storage for Resume; error: it failed (Resume may continue it from its checkpoint). */
  status: 'idle' | 'training' | 'paused' | 'done' | 'error';
  /** The saved run being shown (null until the worker names it). */
  runId: string | null;
  /** One entry per finished step (loss) or validation (valLoss). */
  points: TrainMetrics[];
  /** The latest step's figures (tokens/s, ETA, memory), which the chart points do not keep. */
  latest: TrainMetrics | null;
  /** The newest sample generation from the fixed prompt. */
  sample: { step: number; prompt: string; text: string } | null;
  /** Pause or Stop was asked and the current step is finishing. */
  pending: 'pause' | 'stop' | null;
  message: string | null;
  result: TrainResult | null;
}

export interface AppActions {
  deviceReady(info: { adapter: AdapterInfo; f16: boolean; limits: GpuLimitsInfo; tuning?: KernelTuning }): void;
  deviceUnsupported(problem: string): void;
  deviceFailed(problem: string): void;
  addLog(level: LogEntry['level'], text: string): void;
  modelLoading(message: string): void;
  modelLoaded(info: ModelInfoResult): void;
  modelFailed(message: string): void;
  /** A file's download report (replacing the file's earlier one); null forgets them all (a new load). */
  modelDownload(p: DownloadProgress | null): void;
  /** A new run (no points) or a resumed one (its saved points). */
  trainingStarted(points?: TrainMetrics[], runId?: string | null): void;
  trainingPending(action: 'pause' | 'stop'): void;
  trainingProgress(message: string, metrics?: TrainMetrics): void;
  trainingDone(result: TrainResult): void;
  trainingFailed(message: string): void;
  updateSettings(patch: Partial<TrainSettings>): void;
  setDataset(dataset: DatasetChoice): void;
  inspectionStarted(): void;
  inspectionDone(result: InspectDatasetResult): void;
  inspectionFailed(message: string): void;
}

export type AppStore = AppState & AppActions;

/** Log entries kept; older ones are dropped. */
export const LOG_LIMIT = 500;

export const initialState: AppState = {
  status: 'checking',
  adapter: null,
  f16: null,
  limits: null,
  tuning: null,
  problem: null,
  log: [],
  model: null,
  modelStatus: 'none',
  modelMessage: null,
  modelDownloads: [],
  training: { status: 'idle', runId: null, points: [], latest: null, sample: null, pending: null, message: null, result: null },
  settings: QUICK_PRESET,
  dataset: DEFAULT_DATASET,
  inspection: { status: 'idle', result: null, message: null },
};

export function createAppStore(init: Partial<AppState> = {}) {
  return createStore<AppStore>()((set) => ({
    ...initialState,
    ...init,
    deviceReady: ({ adapter, f16, limits, tuning }) => set({ status: 'ready', adapter, f16, limits, tuning: tuning ?? null, problem: null }),
    deviceUnsupported: (problem) => set({ status: 'unsupported', problem }),
    deviceFailed: (problem) => set({ status: 'failed', problem }),
    addLog: (level, text) => set((s) => ({ log: [...s.log, { time: Date.now(), level, text }].slice(-LOG_LIMIT) })),
    // A failed load keeps the model that was loaded before: it is still the one in the worker.
    modelLoading: (message) => set({ modelStatus: 'loading', modelMessage: message }),
    modelLoaded: (info) => set({ model: info, modelStatus: 'ready', modelMessage: null }),
    modelFailed: (message) => set((s) => ({ modelStatus: s.model ? 'ready' : 'error', modelMessage: message })),
    modelDownload: (p) =>
      set((s) => {
        if (!p) return { modelDownloads: [] };
        const i = s.modelDownloads.findIndex((d) => d.file === p.file);
        return { modelDownloads: i < 0 ? [...s.modelDownloads, p] : s.modelDownloads.map((d, j) => (j === i ? p : d)) };
      }),
    trainingStarted: (points = [], runId = null) =>
      set({ training: { ...initialState.training, status: 'training', points, runId, latest: points.at(-1) ?? null, message: 'starting' } }),
    trainingPending: (action) => set((s) => ({ training: { ...s.training, pending: action } })),
    trainingProgress: (message, m) =>
      set((s) => {
        if (!m) return { training: { ...s.training, message } };
        const t = s.training;
        const point = m.loss !== undefined || m.valLoss !== undefined;
        return {
          training: {
            ...t,
            message,
            runId: m.runId ?? t.runId,
            points: point ? [...t.points, m] : t.points,
            latest: m.loss !== undefined || !t.latest ? m : t.latest,
            sample: m.sample ? { step: m.step, ...m.sample } : t.sample,
          },
        };
      }),
    trainingDone: (result) =>
      set((s) => ({ training: { ...s.training, status: result.status === 'paused' ? 'paused' : 'done', runId: result.runId, result, pending: null, message: null } })),
    trainingFailed: (message) => set((s) => ({ training: { ...s.training, status: 'error', pending: null, message } })),
    updateSettings: (patch) => set((s) => ({ settings: { ...s.settings, ...patch } })),
    setDataset: (dataset) => set({ dataset }),
    inspectionStarted: () => set((s) => ({ inspection: { ...s.inspection, status: 'inspecting' } })),
    inspectionDone: (result) => set({ inspection: { status: 'ready', result, message: null } }),
    // A failure drops the old result: it described another file or other settings.
    inspectionFailed: (message) => set({ inspection: { status: 'error', result: null, message } }),
  }));
}

/** The app's one store. */
export const appStore = createAppStore();

/** React binding: `useAppStore((s) => s.status)`. */
export function useAppStore<T>(selector: (s: AppStore) => T): T {
  return useStore(appStore, selector);
}
