// Learning-rate schedules, against transformers' get_{constant,linear,cosine}_schedule_with_warmup.

import { describe, expect, it } from 'vitest';
import { learningRate } from '../../src/train/schedule.ts';

describe('learning-rate schedules', () => {
  const base = { peak: 1e-3, warmup: 10, total: 110 };
  it('warms up linearly from 0 for every kind', () => {
    for (const kind of ['constant', 'linear', 'cosine'] as const) {
      expect(learningRate({ ...base, kind }, 0)).toBe(0);
      expect(learningRate({ ...base, kind }, 5)).toBeCloseTo(5e-4, 12);
      expect(learningRate({ ...base, kind }, 10)).toBeCloseTo(1e-3, 12);
    }
  });
  it('constant stays at the peak; linear falls to 0 at the end; cosine passes half-way at the middle', () => {
    expect(learningRate({ ...base, kind: 'constant' }, 100)).toBe(1e-3);
    expect(learningRate({ ...base, kind: 'linear' }, 60)).toBeCloseTo(5e-4, 12);
    expect(learningRate({ ...base, kind: 'linear' }, 110)).toBe(0);
    expect(learningRate({ ...base, kind: 'cosine' }, 60)).toBeCloseTo(5e-4, 12);
    expect(learningRate({ ...base, kind: 'cosine' }, 35)).toBeCloseTo(1e-3 * 0.5 * (1 + Math.cos(Math.PI * 0.25)), 12);
    expect(learningRate({ ...base, kind: 'cosine' }, 110)).toBeCloseTo(0, 15);
  });
  it('without warmup the first step uses the peak', () => {
    expect(learningRate({ kind: 'cosine', peak: 2e-4, warmup: 0, total: 10 }, 0)).toBe(2e-4);
  });
});
