// Learning-rate schedules as transformers defines them: linear warmup from 0, then constant,
// linear decay to 0, or cosine decay to 0 over the remaining steps.

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface Schedule {
  kind: ScheduleKind;
  peak: number;
  warmup: number;
  total: number;
}

/** Learning rate for optimizer step `step` (0-based), as get_*_schedule_with_warmup computes it. */
export function learningRate(s: Schedule, step: number): number {
  if (step < s.warmup) return (s.peak * step) / Math.max(1, s.warmup);
  if (s.kind === 'constant') return s.peak;
  const progress = (step - s.warmup) / Math.max(1, s.total - s.warmup);
  if (s.kind === 'linear') return s.peak * Math.max(0, 1 - progress);
  return s.peak * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
