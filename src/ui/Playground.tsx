// Try the model: continue a prompt (greedy by default) and see the text and the speed.

import { useState } from 'react';
import type { GenerateResult } from '../protocol/messages.ts';
import { useAppStore } from '../state/store.ts';
import { useEngine } from './engine-context.ts';

export function Playground() {
  const engine = useEngine();
  const ready = useAppStore((s) => s.modelStatus === 'ready');
  const [prompt, setPrompt] = useState('Once upon a time');
  const [maxNewTokens, setMaxNewTokens] = useState(32);
  const [temperature, setTemperature] = useState(0);
  const [result, setResult] = useState<GenerateResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!engine) return null;

  async function run() {
    if (!engine) return;
    setBusy(true);
    setError(null);
    try {
      setResult(await engine.request<'generate'>({ kind: 'generate', prompt, maxNewTokens, temperature, seed: 0 }));
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
          {busy ? 'Generating…' : 'Generate'}
        </button>
      </div>
      {error && <p className="error-text">{error}</p>}
      {result && (
        <div data-testid="generation" data-tokens={JSON.stringify(result.tokens)} data-prompt-tokens={JSON.stringify(result.promptTokens)}>
          <pre className="output">
            <span className="muted">{prompt}</span>
            {result.text}
          </pre>
          <p className="muted">
            {result.tokens.length} tokens, {result.tokensPerSecond.toFixed(1)} tokens/s
          </p>
        </div>
      )}
    </section>
  );
}
