// App entry: checks for WebGPU in the main thread first, then asks the engine worker for an adapter,
// and renders the shell. Without WebGPU no worker is started and the app explains what is missing.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App.tsx';
import { demoModelSource } from './ui/demo.ts';
import { loadBaseModel } from './ui/load-model.ts';
import { EngineContext } from './ui/engine-context.ts';
import { ErrorBoundary } from './ui/ErrorBoundary.tsx';
import './ui/app.css';
import { appStore } from './state/store.ts';
import { refreshLibrary } from './state/library.ts';
import { connectEngine, startEngineWorker, type EngineClient } from './worker/client.ts';

/** How long the worker may take to open the GPU before the app says so. */
const INIT_TIMEOUT_MS = 60_000;

function boot(): EngineClient | null {
  const { addLog, deviceUnsupported, deviceFailed, deviceReady } = appStore.getState();
  if (!window.isSecureContext) {
    deviceUnsupported(
      'This page is not a secure context, so the browser hides WebGPU. Open it over https:// or from localhost.',
    );
    addLog('error', 'not a secure context: WebGPU is unavailable');
    return null;
  }
  if (!('gpu' in navigator) || !navigator.gpu) {
    deviceUnsupported('This browser does not offer WebGPU (navigator.gpu is missing).');
    addLog('error', 'navigator.gpu is missing in the page');
    return null;
  }
  if (typeof Worker === 'undefined') {
    deviceUnsupported('This browser cannot start Web Workers, which tabtune runs its engine in.');
    return null;
  }
  addLog('info', 'navigator.gpu found; asking the engine worker for an adapter');

  let engine: EngineClient;
  try {
    engine = connectEngine(startEngineWorker());
  } catch (e) {
    deviceFailed(`The engine worker could not start: ${(e as Error).message}`);
    addLog('error', (e as Error).message);
    return null;
  }
  let settled = false;
  const timer = setTimeout(() => {
    if (settled) return;
    deviceFailed(`The engine worker did not open the GPU within ${INIT_TIMEOUT_MS / 1000} s.`);
    addLog('error', 'init timed out');
  }, INIT_TIMEOUT_MS);
  engine.request<'init'>({ kind: 'init' }, (p) => addLog('info', `worker: ${p.message}`)).then(
    (r) => {
      settled = true;
      clearTimeout(timer);
      deviceReady(r);
      addLog('info', `GPU ready in the worker: ${[r.adapter.vendor, r.adapter.architecture].filter(Boolean).join(' ')}`);
      // Sent with the reply, not as progress: a progress message may arrive after the reply and be dropped.
      if (r.tuningNote) addLog('info', r.tuningNote);
      // The app opens on the bundled demo model, which needs no network, and the saved runs.
      void loadBaseModel(engine, demoModelSource());
      void refreshLibrary();
    },
    (e: unknown) => {
      settled = true;
      clearTimeout(timer);
      const err = e instanceof Error ? e : new Error(String(e));
      if (err.name === 'WebGpuUnavailableError') deviceUnsupported(`In the engine worker: ${whatIsMissing(err.message)}`);
      else deviceFailed(err.message);
      addLog('error', `${err.name}: ${err.message}`);
    },
  );
  return engine;
}

/** "WebGPU is not available: <detail>. tabtune needs ..." -> "<detail>" (or the whole message). */
function whatIsMissing(message: string): string {
  const m = /^WebGPU is not available: (.*?)\. tabtune needs/s.exec(message);
  return m?.[1] ? `${m[1]}.` : message;
}

const engine = boot();
const rootEl = document.getElementById('root');
if (!rootEl) throw new Error('index.html has no #root element');
createRoot(rootEl).render(
  <StrictMode>
    <ErrorBoundary>
      <EngineContext.Provider value={engine}>
        <App />
      </EngineContext.Provider>
    </ErrorBoundary>
  </StrictMode>,
);
