// Try the model: a prompt in, the continuation streaming out token by token. With an adapter
// applied (the one trained in this session or a saved one), the base model and the adapter answer
// the same prompt side by side; the base model stays loaded, only the adapter is switched.

import { useState } from 'react';
import type { GenerateRequest, GenerateResult, ProgressReply } from '../protocol/messages.ts';
import { useAppStore } from '../state/store.ts';
import { useEngine } from './engine-context.ts';
import { NumberField } from './NumberField.tsx';
import { useAdapterChoice } from './use-adapter-choice.ts';
import './playground.css';

/** One answer: the text so far while it streams, then the result. */
interface Pane {
  text: string;
  result: GenerateResult | null;
  /** The request failed before its result; the text is what had streamed. */
  failed: boolean;
}

interface Generation {
  prompt: string;
  chat: boolean;
  base: Pane;
  /** null: no adapter was applied, only the base model answered. */
  tuned: Pane | null;
  adapterLabel: string | null;
  /** Progress warnings (e.g. the ChatML fallback), once each. */
  notices: string[];
}

const EMPTY: Pane = { text: '', result: null, failed: false };

function Output({ title, prompt, chat, pane, testId }: { title: string; prompt: string; chat: boolean; pane: Pane; testId: string }) {
  const r = pane.result;
  const streaming = !r && !pane.failed;
  // The test ids and data attributes appear only with the final result, so whoever reads them
  // (the e2e tests) never sees a half-written answer.
  const data = r
    ? { 'data-testid': testId, 'data-tokens': JSON.stringify(r.tokens), 'data-prompt-tokens': JSON.stringify(r.promptTokens), 'data-text': r.text }
    : { 'data-testid': `${testId}-${streaming ? 'streaming' : 'failed'}` };
  return (
    <div {...data} className="playground__pane">
      <h3>{title}</h3>
      {/* aria-busy: screen readers wait for the whole answer instead of reading every token. */}
      <pre className="output" aria-busy={streaming}>
        {/* In chat mode the answer is the assistant's own turn, not a continuation of the prompt. */}
        <span className="muted">{chat ? `${prompt}\n\n` : prompt}</span>
        {pane.text}
        {streaming && <span className="playground__cursor" aria-hidden="true" />}
      </pre>
      <p className="muted">{r ? `${r.tokens.length} tokens, ${r.tokensPerSecond.toFixed(1)} tokens/s` : streaming ? 'generating…' : 'stopped by the error above'}</p>
    </div>
  );
}

/** A pane still waiting when the generation failed: it will get no result. */
function settle(p: Pane): Pane {
  return p.result ? p : { ...p, failed: true };
}

export function Playground() {
  const engine = useEngine();
  const ready = useAppStore((s) => s.modelStatus === 'ready');
  const training = useAppStore((s) => s.training.status === 'training');
  const adapter = useAdapterChoice();
  const [prompt, setPrompt] = useState('Question: The LORD is my shepherd;\nAnswer:');
  const [maxNewTokens, setMaxNewTokens] = useState(24);
  const [temperature, setTemperature] = useState(0);
  const [topP, setTopP] = useState(1);
  const [chat, setChat] = useState(false);
  const [gen, setGen] = useState<Generation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!engine) return null;

  async function run() {
    if (!engine) return;
    const applied = adapter.applied;
    setBusy(true);
    setError(null);
    setGen({ prompt, chat, base: EMPTY, tuned: applied ? EMPTY : null, adapterLabel: applied?.label ?? null, notices: [] });
    const request: Omit<GenerateRequest, 'id' | 'useAdapter'> = { kind: 'generate', prompt, maxNewTokens, temperature, topP, seed: 0, chat };
    const update = (which: 'base' | 'tuned', change: (p: Pane) => Pane) =>
      setGen((g) => (g && g[which] ? { ...g, [which]: change(g[which]) } : g));
    const onProgress = (which: 'base' | 'tuned') => (p: ProgressReply) => {
      const partial = p.partialText;
      if (partial !== undefined) update(which, (pane) => ({ ...pane, text: partial }));
      if (p.message.startsWith('warning: ')) {
        const note = p.message.slice('warning: '.length);
        setGen((g) => (g && !g.notices.includes(note) ? { ...g, notices: [...g.notices, note] } : g));
      }
    };
    const ask = async (which: 'base' | 'tuned') => {
      const result = await engine.request<'generate'>({ ...request, useAdapter: which === 'tuned' }, onProgress(which));
      update(which, () => ({ text: result.text, result, failed: false }));
    };
    try {
      await ask('base');
      if (applied) await ask('tuned');
    } catch (e) {
      setError((e as Error).message);
      setGen((g) => g && { ...g, base: settle(g.base), tuned: g.tuned && settle(g.tuned) });
    } finally {
      setBusy(false);
    }
  }

  const samplingHint = temperature === 0 ? 'temperature 0: greedy, the same answer every time' : `sampling from the top ${Math.round(topP * 100)}% of the probability mass`;

  return (
    <section className="card playground" data-testid="playground">
      <h2>Playground</h2>
      <textarea aria-label="Prompt" rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      <div className="playground__controls">
        <NumberField label="Max new tokens" value={maxNewTokens} integer min={1} max={1024} onCommit={setMaxNewTokens} />
        <NumberField label="Temperature" value={temperature} min={0} max={5} step={0.1} onCommit={setTemperature} describedBy="playground-sampling" />
        <NumberField label="Top-p" value={topP} min={0} max={1} step={0.05} check={(n) => n > 0} onCommit={setTopP} describedBy="playground-sampling" />
        <label className="playground__check" title="Send the prompt as a user message through the model's chat template">
          <input type="checkbox" checked={chat} onChange={(e) => setChat(e.target.checked)} /> Chat
        </label>
        <label className="playground__adapter">
          <span>Adapter</span>
          <select
            aria-label="Adapter"
            value={adapter.value}
            disabled={busy || adapter.switching || training || !ready}
            onChange={(e) => void adapter.choose(e.target.value)}
          >
            {adapter.options.map((o) => (
              <option key={o.value} value={o.value} disabled={o.problem !== null}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={!ready || busy || adapter.switching || !prompt} onClick={() => void run()} data-testid="generate">
          {busy ? 'Generating…' : adapter.applied ? 'Generate (base and adapter)' : 'Generate'}
        </button>
      </div>
      <p id="playground-sampling" className="muted playground__hint">
        {samplingHint}
      </p>
      {training && <p className="muted">Adapters can be switched once training has paused or finished.</p>}
      {adapter.error && <p className="error-text">{adapter.error}</p>}
      {error && <p className="error-text">{error}</p>}
      {gen && (
        <>
          {gen.notices.map((n) => (
            <p key={n} className="playground__notice" role="note">
              {n}
            </p>
          ))}
          <div className={gen.tuned ? 'side-by-side' : ''} data-chat={gen.chat}>
            <Output title={gen.tuned ? 'Base model' : 'Output'} prompt={gen.prompt} chat={gen.chat} pane={gen.base} testId="generation" />
            {gen.tuned && <Output title={`With the adapter: ${gen.adapterLabel ?? ''}`} prompt={gen.prompt} chat={gen.chat} pane={gen.tuned} testId="generation-adapter" />}
          </div>
        </>
      )}
    </section>
  );
}
