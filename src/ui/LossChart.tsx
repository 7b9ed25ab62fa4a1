// Live training and validation loss, drawn with uPlot: raw and smoothed training loss, validation
// loss, and the smoothed curves of other runs to compare. Series are built in one pass and redrawn
// at most once per animation frame, so a run of thousands of steps stays fast.

import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One point of a loss curve (a step's training loss, or a validation result). */
export interface LossPoint {
  step: number;
  loss?: number;
  valLoss?: number;
}

export interface ComparedRun {
  id: string;
  name: string;
  points: LossPoint[];
}

/** Weight of the past in the smoothed curve (TensorBoard's default). */
const SMOOTHING = 0.6;
const COMPARE_COLOURS = ['#2a9d5c', '#8e44ad', '#c0392b', '#16a085', '#7f8c8d', '#b7950b'];

/** Exponential moving average, debiased so the first points are not pulled toward zero. */
export function smooth(values: (number | null)[], weight = SMOOTHING): (number | null)[] {
  let avg = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null) return null;
    n++;
    avg = weight * avg + (1 - weight) * v;
    return avg / (1 - weight ** n);
  });
}

/** Columns over the union of steps: x, then per curve one value or null per step. */
export function lossColumns(main: LossPoint[], compare: ComparedRun[]): uPlot.AlignedData {
  const stepSet = new Set<number>();
  for (const p of main) stepSet.add(p.step);
  for (const r of compare) for (const p of r.points) stepSet.add(p.step);
  const steps = [...stepSet].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const column = (points: LossPoint[], key: 'loss' | 'valLoss') => {
    const out: (number | null)[] = new Array(steps.length).fill(null);
    for (const p of points) if (p[key] !== undefined) out[index.get(p.step)!] = p[key]!;
    return out;
  };
  const train = column(main, 'loss');
  return [steps, train, smooth(train), column(main, 'valLoss'), ...compare.map((r) => smooth(column(r.points, 'loss')))];
}

export function LossChart({ points, compare = [] }: { points: LossPoint[]; compare?: ComparedRun[] }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const frame = useRef(0);
  const compareKey = compare.map((r) => r.id).join(',');
  useEffect(() => {
    if (!el.current) return;
    plot.current = new uPlot(
      {
        width: Math.min(720, el.current.clientWidth || 720),
        height: 240,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, { label: 'loss' }],
        series: [
          {},
          { label: 'train (raw)', stroke: 'rgba(47, 111, 219, 0.35)', width: 1, spanGaps: true },
          { label: 'train (smoothed)', stroke: '#2f6fdb', width: 2, spanGaps: true },
          { label: 'validation', stroke: '#d9822b', width: 2, spanGaps: true, points: { show: true, size: 6 } },
          ...compare.map((r, i) => ({ label: r.name, stroke: COMPARE_COLOURS[i % COMPARE_COLOURS.length], width: 2, dash: [6, 4], spanGaps: true })),
        ],
      },
      lossColumns([], compare),
      el.current,
    );
    return () => {
      cancelAnimationFrame(frame.current);
      plot.current?.destroy();
      plot.current = null;
    };
    // The plot is rebuilt only when the set of compared runs changes; data updates go through setData.
  }, [compareKey]);
  useEffect(() => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => plot.current?.setData(lossColumns(points, compare)));
  }, [points, compare]);
  return <div ref={el} role="figure" aria-label="Loss chart" data-testid="loss-chart" data-points={points.length} />;
}
