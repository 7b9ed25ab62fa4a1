// What changes at every step: the status line, the loss chart (with compared runs) and the latest
// sample generation. Kept apart from the panel so a step re-renders only these.

import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useLibrary } from '../state/library.ts';
import { useAppStore } from '../state/store.ts';
import { LossChart } from './LossChart.tsx';
import { TrainingStatus } from './TrainingStatus.tsx';

export function LiveTraining() {
  const { points, sample, runId } = useAppStore(useShallow((s) => ({ points: s.training.points, sample: s.training.sample, runId: s.training.runId })));
  const runs = useLibrary((s) => s.runs);
  const compareIds = useLibrary((s) => s.compare);
  const compare = useMemo(
    () => runs.filter((x) => compareIds.includes(x.id) && x.id !== runId).map((x) => ({ id: x.id, name: x.name, points: x.metrics })),
    [runs, compareIds, runId],
  );
  return (
    <div className="live">
      <TrainingStatus />
      {(points.length > 0 || compare.length > 0) && <LossChart points={points} compare={compare} />}
      {sample && (
        <p className="sample" data-testid="train-sample">
          <span className="muted">At step {sample.step}: </span>
          <span className="muted">{sample.prompt}</span>
          {sample.text}
        </p>
      )}
    </div>
  );
}
