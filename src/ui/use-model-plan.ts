// The plan of a training run on a hub model that is not downloaded yet, asked of the worker (from
// config.json, or a GGUF's header read by range) whenever the model, the weight precision, the
// training settings or the budget change; replies to earlier asks are dropped.

import { useEffect, useState } from 'react';
import type { WeightPrecision } from '../model/weights.ts';
import type { ModelSource, PlanModelResult } from '../protocol/messages.ts';
import { useAppStore } from '../state/store.ts';
import type { EngineClient } from '../worker/client.ts';
import { useBudget } from './gpu-budget.ts';

export type PlanState =
  | { status: 'idle' }
  /** `last`: the same model's plan for the settings before, shown until the new one comes. */
  | { status: 'planning'; last: PlanModelResult | null }
  | { status: 'ready'; result: PlanModelResult }
  | { status: 'error'; message: string };

/** Settings edits come in bursts (typing a number): one request after they settle. */
const SETTLE_MS = 250;

type Answer = { ask: string; result: PlanModelResult } | { ask: string; message: string };

export function useModelPlan(engine: EngineClient | null, source: Extract<ModelSource, { kind: 'hub' }> | null, precision: WeightPrecision): PlanState {
  const settings = useAppStore((s) => s.settings);
  const budgetGiB = useBudget((s) => s.budgetGiB);
  const [answer, setAnswer] = useState<{ model: string; answer: Answer } | null>(null);
  // Keys, so a new but equal source object does not ask again.
  const model = source ? JSON.stringify(source) : null;
  const ask = JSON.stringify([model, precision, settings, budgetGiB]);
  useEffect(() => {
    if (!engine || !model) return;
    let current = true;
    const timer = setTimeout(() => {
      const src = JSON.parse(model) as Extract<ModelSource, { kind: 'hub' }>;
      engine.request<'planModel'>({ kind: 'planModel', source: src, precision, settings, budget: budgetGiB * 2 ** 30 }).then(
        (result) => current && setAnswer({ model, answer: { ask, result } }),
        (e: unknown) => current && setAnswer({ model, answer: { ask, message: (e as Error).message } }),
      );
    }, SETTLE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [engine, model, ask, precision, settings, budgetGiB]);

  if (!engine || !model) return { status: 'idle' };
  const a = answer?.model === model ? answer.answer : null;
  if (a?.ask === ask) return 'result' in a ? { status: 'ready', result: a.result } : { status: 'error', message: a.message };
  return { status: 'planning', last: a && 'result' in a ? a.result : null };
}
