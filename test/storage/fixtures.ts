// Shared records and a fresh, private database per test for the storage tests.
//
// These run on fake-indexeddb in Node. The real browser IndexedDB (structured clone of typed arrays,
// real quota behaviour) is exercised by the e2e tests in a real Chromium.

// idb checks `instanceof IDBRequest` (and friends) against globals, so those must exist in Node even
// though each test passes its own factory below.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { openStorage } from '../../src/storage/store.ts';
import type { TabtuneStorage } from '../../src/storage/store.ts';
import type { AdapterRecord, CheckpointRecord, RunRecord } from '../../src/storage/types.ts';

export interface Settings {
  rank: number;
  lr: number;
  targets: string[];
}

export interface State {
  step: number;
  moments: { m: Float32Array; v: Float32Array };
  lora: Map<string, Float32Array>;
}

export type TestStorage = TabtuneStorage<Settings, State>;

/** A new factory per call: tests never see each other's data. */
export function openTestStorage(factory: IDBFactory = new IDBFactory()): Promise<TestStorage> {
  return openStorage<Settings, State>('tabtune-test', { indexedDB: factory });
}

export function makeRun(id: string, createdAt: number, extra: Partial<RunRecord<Settings>> = {}): RunRecord<Settings> {
  return {
    id,
    name: `run ${id}`,
    createdAt,
    updatedAt: createdAt,
    baseModel: 'HuggingFaceTB/SmolLM2-135M',
    dataset: 'poems.jsonl',
    settings: { rank: 8, lr: 2e-4, targets: ['q_proj', 'v_proj'] },
    status: 'running',
    step: 0,
    totalSteps: 100,
    metrics: [],
    ...extra,
  };
}

export function makeAdapter(id: string, createdAt: number, bytes = new Uint8Array([1, 2, 3, 250])): AdapterRecord {
  return {
    id,
    name: `adapter ${id}`,
    baseModel: 'HuggingFaceTB/SmolLM2-135M',
    rank: 8,
    alpha: 16,
    targets: ['q_proj', 'v_proj'],
    createdAt,
    runId: `run-${id}`,
    finalValLoss: 1.25,
    bestValLoss: null,
    files: { configJson: '{"r":8,"lora_alpha":16}', safetensors: bytes },
  };
}

export function makeCheckpoint(runId: string, step: number): CheckpointRecord<State> {
  const fill = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => k + i / 8);
  return {
    runId,
    step,
    savedAt: 1_700_000_000_000 + step,
    state: {
      step,
      moments: { m: fill(5, step), v: fill(3, -step) },
      lora: new Map([['model.layers.0.self_attn.q_proj.lora_A', fill(4, step * 2)]]),
    },
  };
}
