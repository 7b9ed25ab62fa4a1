// Try the model: continue a prompt (greedy by default). Once an adapter is trained, the base model
// and the adapter answer side by side.

import { useState } from 'react';
import type { GenerateResult } from '../protocol/messages.ts';
import { useAppStore } from '../state/store.ts';
import { useEngine } from './engine-context.ts';

function Output({ title, prompt, result, testId }: { title: string; prompt: string; result: GenerateResult; testId: string }) {
  return (
    <div data-testid={testId} data-tokens={JSON.stringify(result.tokens)} data-prompt-tokens={JSON.stringify(result.promptTokens)} data-text={result.text}>
      <h3>{title}</h3>
      <pre className="output">
        <span className="muted">{prompt}</span>
        {result.text}
      </pre>
      <p className="muted">
        {result.tokens.length} tokens, {result.tokensPerSecond.toFixed(1)} tokens/s
      </p>
    </div>
  );
}

export function Playground() {
  const engine = useEngine();
  const ready = useAppStore((s) => s.modelStatus === 'ready');
  const trained = useAppStore((s) => s.training.status === 'done');
  const [prompt, setPrompt] = useState('Question: The LORD is my shepherd;\nAnswer:');
  const [maxNewTokens, setMaxNewTokens] = useState(24);
  const [temperature, setTemperature] = useState(0);
  const [results, setResults] = useState<{ base: GenerateResult; tuned: GenerateResult | null; prompt: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!engine) return null;

  async function run() {
    if (!engine) return;
    setBusy(true);
    setError(null);
    try {
      const ask = (useAdapter: boolean) => engine.request<'generate'>({ kind: 'generate', prompt, maxNewTokens, temperature, seed: 0, useAdapter });
      const base = await ask(false);
      const tuned = trained ? await ask(true) : null;
      setResults({ base, tuned, prompt });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" data-testid="playground">
      <h2>Playground</h2>
      <textarea aria-label="Prompt" rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      <div className="row">
        <label>
          New tokens{' '}
          <input type="number" min={1} max={1024} value={maxNewTokens} onChange={(e) => setMaxNewTokens(Number(e.target.value))} />
        </label>
        <label>
          Temperature{' '}
          <input type="number" min={0} step={0.1} value={temperature} onChange={(e) => setTemperature(Number(e.target.value))} />
        </label>
        <button type="button" disabled={!ready || busy || !prompt} onClick={() => void run()} data-testid="generate">
          {busy ? 'Generating…' : trained ? 'Generate (base and adapter)' : 'Generate'}
        </button>
      </div>
      {error && <p className="error-text">{error}</p>}
      {results && (
        <div className={results.tuned ? 'side-by-side' : ''}>
          <Output title={results.tuned ? 'Base model' : 'Output'} prompt={results.prompt} result={results.base} testId="generation" />
          {results.tuned && <Output title="With the adapter" prompt={results.prompt} result={results.tuned} testId="generation-adapter" />}
        </div>
      )}
    </section>
  );
}
