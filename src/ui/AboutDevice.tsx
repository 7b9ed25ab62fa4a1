// About this device: the GPU the engine worker opened, its limits, and `tabtune bench` run in that
// worker on this GPU, shown as tables. "Copy as JSON" gives the very object `tabtune bench --json`
// prints, so a user's figures can be pasted into an issue and read like a CLI run's.

import { useRef, useState } from 'react';
import type { BenchResult, GpuLimitsInfo } from '../protocol/messages.ts';
import { appStore, useAppStore } from '../state/store.ts';
import { formatBytes } from '../util/format.ts';
import { describeAdapter } from '../gpu/device.ts';
import { layoutName } from '../gpu/tuning.ts';
import { useEngine } from './engine-context.ts';
import './about-device.css';
import './config.css';

const LIMITS: { key: keyof GpuLimitsInfo; bytes: boolean }[] = [
  { key: 'maxBufferSize', bytes: true },
  { key: 'maxStorageBufferBindingSize', bytes: true },
  { key: 'maxStorageBuffersPerShaderStage', bytes: false },
  { key: 'maxComputeWorkgroupStorageSize', bytes: true },
  { key: 'maxComputeInvocationsPerWorkgroup', bytes: false },
  { key: 'maxComputeWorkgroupsPerDimension', bytes: false },
];

/** A figure for people: '—' for what was not measured. */
function f(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

type CopyState = 'idle' | 'copied' | 'failed';

export function AboutDevice() {
  const engine = useEngine();
  const adapter = useAppStore((s) => s.adapter);
  const f16 = useAppStore((s) => s.f16);
  const limits = useAppStore((s) => s.limits);
  const tuning = useAppStore((s) => s.tuning);
  const training = useAppStore((s) => s.training.status === 'training');
  const loading = useAppStore((s) => s.modelStatus === 'loading');
  const [quick, setQuick] = useState(false);
  const [running, setRunning] = useState(false);
  const [lines, setLines] = useState<string[]>([]);
  const [report, setReport] = useState<BenchResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copy, setCopy] = useState<CopyState>('idle');
  const jsonRef = useRef<HTMLTextAreaElement>(null);
  if (!engine || !adapter || !limits) return null;

  const name = [adapter.vendor, adapter.architecture].filter(Boolean).join(' · ') || 'unnamed adapter';
  const detail = adapter.description || adapter.device;
  // The CLI prints JSON.stringify(report): the same call gives the same text for the same object.
  const json = report ? JSON.stringify(report) : '';

  async function run() {
    if (!engine) return;
    const log = appStore.getState().addLog;
    setRunning(true);
    setLines([]);
    setReport(null);
    setError(null);
    setCopy('idle');
    log('info', `benchmark started${quick ? ' (quick sizes)' : ''}`);
    try {
      const r = await engine.request<'bench'>({ kind: 'bench', quick }, (p) => setLines((l) => [...l, p.message]));
      setReport(r);
      log('info', `benchmark finished in ${(r.elapsedMs / 1000).toFixed(1)} s`);
    } catch (e) {
      const message = (e as Error).message;
      setError(message);
      log('error', `benchmark failed: ${message}`);
    } finally {
      setRunning(false);
    }
  }

  async function copyJson() {
    try {
      // Missing outside secure contexts, and refused without focus or permission: the text stays below.
      await navigator.clipboard.writeText(json);
      setCopy('copied');
    } catch {
      setCopy('failed');
      jsonRef.current?.focus();
      jsonRef.current?.select();
    }
  }

  const why = training ? 'The benchmark waits until training has paused or finished: both would share the GPU.' : loading ? 'The benchmark waits until the model has loaded.' : null;

  return (
    <section className="card about-device" aria-label="About this device" data-testid="about-device">
      <h2>About this device</h2>
      <dl className="facts">
        <dt>Device</dt>
        <dd data-testid="about-device-name">
          {name}
          {detail && <div className="muted mono">{detail}</div>}
        </dd>
        <dt>shader-f16</dt>
        <dd data-testid="about-device-f16">{f16 ? 'yes' : 'no'}</dd>
        {LIMITS.map(({ key, bytes }) => (
          <Limit key={key} name={key} value={limits[key]} bytes={bytes} />
        ))}
        {tuning && (
          <>
            <dt>Matmul layouts</dt>
            <dd data-testid="about-device-tuning">
              {tuning.source === 'measured' ? 'timed on this GPU' : 'defaults for this kind of GPU'}: forward {layoutName(tuning.matmul.forward)}; input
              gradient {layoutName(tuning.matmul.inputGrad)}
            </dd>
          </>
        )}
      </dl>

      <h3>Benchmark</h3>
      <p className="muted">
        The same measurements as <code>tabtune bench</code>, run on this GPU in the engine worker: our matmul against TensorFlow.js&apos;s WebGPU
        backend on real models&apos; projection shapes, a LoRA training step on a SmolLM2-shaped model of random weights, its memory, and decode
        speed. The loaded model is left as it is. A full run takes minutes; Quick takes seconds and is a smoke test, not a measurement.
      </p>
      <div className="row">
        <label className="about-device__check">
          <input type="checkbox" checked={quick} disabled={running} onChange={(e) => setQuick(e.target.checked)} /> Quick
        </label>
        <button type="button" disabled={running || why !== null} onClick={() => void run()} data-testid="bench-run">
          {running ? 'Running the benchmark…' : 'Run benchmark'}
        </button>
      </div>
      {why && <p className="muted">{why}</p>}
      {lines.length > 0 && (
        <ol className="log mono about-device__progress" aria-live="polite" aria-busy={running} data-testid="bench-progress">
          {lines.map((l, i) => (
            <li key={i} className="log__entry">
              {l}
            </li>
          ))}
        </ol>
      )}
      {error && (
        <p className="error-text" data-testid="bench-error">
          {error}
        </p>
      )}
      {report && <BenchTables r={report} />}
      {report && (
        <div className="about-device__json">
          <div className="row">
            <button type="button" onClick={() => void copyJson()} data-testid="bench-copy">
              Copy as JSON
            </button>
            <span role="status" className={copy === 'failed' ? 'warn-text' : 'muted'} data-testid="bench-copy-status">
              {copy === 'copied' ? 'Copied: paste it into an issue.' : copy === 'failed' ? 'The clipboard is not available here: copy the text below.' : ''}
            </span>
          </div>
          <label className="muted" htmlFor="bench-json">
            The object <code>tabtune bench --json</code> prints
          </label>
          <textarea id="bench-json" ref={jsonRef} className="mono" readOnly rows={4} value={json} data-testid="bench-json" />
        </div>
      )}
    </section>
  );
}

function Limit({ name, value, bytes }: { name: string; value: number; bytes: boolean }) {
  return (
    <>
      <dt>{name}</dt>
      <dd data-testid={`about-device-${name}`} data-value={value}>
        {bytes ? (
          <>
            {formatBytes(value)} <span className="muted">({value.toLocaleString('en')} bytes)</span>
          </>
        ) : (
          value.toLocaleString('en')
        )}
      </dd>
    </>
  );
}

function BenchTables({ r }: { r: BenchResult }) {
  const d = r.device;
  const m = r.matmul;
  const t = r.train;
  const mem = r.memory;
  const dc = r.decode;
  return (
    <div className="about-device__results" data-testid="bench-results">
      <p className="muted">
        {describeAdapter(d)}; shader-f16 {d.shaderF16 ? 'yes' : 'no'}
        {d.software ? '; a software adapter: absolute figures say little, ratios do' : ''}. {r.quick ? 'Quick sizes. ' : ''}Took{' '}
        {(r.elapsedMs / 1000).toFixed(1)} s.
      </p>
      <p className="muted" data-testid="bench-tuning">
        Autotune ({r.tuning.shape.M} × {r.tuning.shape.N} × {r.tuning.shape.K}, {f(r.tuning.tookMs, 0)} ms): forward {layoutName(r.tuning.chosen.forward)} (
        {r.tuning.forward.map((x) => `${x.layout}: ${f(x.ms)} ms`).join('; ')}); input gradient {layoutName(r.tuning.chosen.inputGrad)} (
        {r.tuning.inputGrad.map((x) => `${x.layout}: ${f(x.ms)} ms`).join('; ')}).
      </p>
      {m && (
        <>
          <h3>Matmul Y = X @ W^T, GFLOP/s</h3>
          <p className="muted">
            Best of {m.trials} trials; ratio = ours / TensorFlow.js WebGPU ({m.tfjs.version ?? 'not run'}, f32 weights).
          </p>
          {m.tfjs.error && (
            <p className="warn-text" data-testid="bench-matmul-tfjs-error">
              TensorFlow.js: {m.tfjs.error}
            </p>
          )}
          <table className="cost__table about-device__matmul" data-testid="bench-matmul">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Projections</th>
                <th scope="col">m × n × k</th>
                <th scope="col">Weights</th>
                <th scope="col">Ours</th>
                <th scope="col">TF.js</th>
                <th scope="col">Ratio</th>
              </tr>
            </thead>
            <tbody>
              {m.rows.map((x) => (
                <tr key={`${x.model} ${x.proj} ${x.dtype}`} data-testid="bench-matmul-row" data-ours-gflops={x.oursGflops} data-tfjs-gflops={x.tfjsGflops ?? ''}>
                  <th scope="row">{x.model}</th>
                  <td className="about-device__text">{x.proj.replaceAll(',', ', ')}</td>
                  <td>
                    {x.m}×{x.n}×{x.k}
                  </td>
                  <td>{x.dtype}</td>
                  <td>{f(x.oursGflops)}</td>
                  <td>{f(x.tfjsGflops)}</td>
                  <td>{f(x.ratio)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted">
            Our best {f(m.bestOursGflops)} GFLOP/s; ratio lowest {f(m.minRatio)}, geometric mean {f(m.geomeanRatio)}.
          </p>
        </>
      )}
      {t && (
        <>
          <h3>LoRA training step</h3>
          <p className="muted">
            r={t.lora.rank} on {t.lora.targets.join(', ')}, {t.batch} × {t.seqLen} tokens, {t.model.name} ({t.model.weightDtype} weights), activation
            checkpointing {t.checkpointing ? 'on' : 'off'}.
          </p>
          <table className="cost__table" data-testid="bench-train">
            <tbody>
              <Fact label={`Step (best of ${t.timedSteps}; mean ${f(t.meanStepMs, 0)} ms)`} value={`${f(t.stepMs, 0)} ms`} raw={t.stepMs} />
              <Fact label="Tokens/s" value={f(t.tokensPerSecond, 1)} raw={t.tokensPerSecond} />
              <Fact label="Useful GFLOP/s" value={f(t.usefulGflops)} raw={t.usefulGflops} />
              <Fact label={`Step efficiency (of our best matmul, ${f(t.referenceGflops)} GFLOP/s)`} value={`${f(100 * t.efficiency, 1)}%`} raw={t.efficiency} />
              <Fact
                label="TensorFlow.js step (autodiff, f32 weights)"
                value={t.tfjs.stepMs === null ? `not measured${t.tfjs.error ? `: ${t.tfjs.error}` : ''}` : `${f(t.tfjs.stepMs, 0)} ms, ${f(t.tfjs.tokensPerSecond, 1)} tokens/s`}
                raw={t.tfjs.stepMs}
              />
              <Fact label="TensorFlow.js slowdown (its step / ours)" value={t.tfjs.slowdown === null ? '—' : `${f(t.tfjs.slowdown)}×`} raw={t.tfjs.slowdown} />
            </tbody>
          </table>
        </>
      )}
      {mem && (
        <>
          <h3>Memory</h3>
          <table className="cost__table" data-testid="bench-memory">
            <tbody>
              <Fact label="Measured peak" value={formatBytes(mem.peakBytes)} raw={mem.peakBytes} />
              <Fact
                label="Plan (weights + LoRA state + activations)"
                value={`${formatBytes(mem.plan.total)} (${formatBytes(mem.plan.weights)} + ${formatBytes(mem.plan.trainable)} + ${formatBytes(mem.plan.activations)})`}
                raw={mem.plan.total}
              />
              <Fact label="Peak / plan" value={`${f(mem.ratio)}×`} raw={mem.ratio} />
              <Fact
                label={`Rows of varied length (${mem.variedSteps} steps): peak / plan`}
                value={`${formatBytes(mem.variedPeakBytes)} / ${formatBytes(mem.variedPlanBytes)} = ${f(mem.variedRatio)}×`}
                raw={mem.variedRatio}
              />
            </tbody>
          </table>
        </>
      )}
      {dc && (
        <>
          <h3>Decode with the KV cache</h3>
          <table className="cost__table" data-testid="bench-decode">
            <tbody>
              <Fact label={`Prefill (${dc.promptTokens} tokens)`} value={`${f(dc.prefillMs, 0)} ms`} raw={dc.prefillMs} />
              <Fact label="Per token" value={`${f(dc.msPerToken, 1)} ms`} raw={dc.msPerToken} />
              <Fact label="Tokens/s" value={f(dc.tokensPerSecond, 1)} raw={dc.tokensPerSecond} />
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

function Fact({ label, value, raw }: { label: string; value: string; raw: number | null }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td data-value={raw ?? ''}>{value}</td>
    </tr>
  );
}
