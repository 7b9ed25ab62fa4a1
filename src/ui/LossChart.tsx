// Live training and validation loss, drawn with uPlot (fast enough to redraw every step).

import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TrainMetrics } from '../protocol/messages.ts';

/** Steps on x; train loss and validation loss (gaps where a series has no value). */
function series(points: TrainMetrics[]): uPlot.AlignedData {
  const steps = [...new Set(points.map((p) => p.step))].sort((a, b) => a - b);
  const at = (key: 'loss' | 'valLoss') => steps.map((s) => points.find((p) => p.step === s && p[key] !== undefined)?.[key] ?? null);
  return [steps, at('loss'), at('valLoss')];
}

export function LossChart({ points }: { points: TrainMetrics[] }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!el.current) return;
    plot.current = new uPlot(
      {
        width: Math.min(640, el.current.clientWidth || 640),
        height: 220,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, { label: 'loss' }],
        series: [{}, { label: 'train', stroke: '#2f6fdb', width: 2 }, { label: 'validation', stroke: '#d9822b', width: 2, points: { show: true, size: 6 } }],
      },
      [[], [], []],
      el.current,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData(series(points));
  }, [points]);
  return <div ref={el} data-testid="loss-chart" />;
}
