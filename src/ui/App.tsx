// The app shell: header, the GPU check, and (once the GPU is ready) the workspace.

import { useAppStore } from '../state/store.ts';
import { GpuStatus } from './GpuStatus.tsx';
import { LogView } from './LogView.tsx';
import { ModelPanel } from './ModelPanel.tsx';
import { Playground } from './Playground.tsx';
import { TrainPanel } from './TrainPanel.tsx';
import { RunList } from './RunList.tsx';
import { AdapterLibrary } from './AdapterLibrary.tsx';
import { AboutDevice } from './AboutDevice.tsx';
import { Unsupported } from './Unsupported.tsx';

export function App() {
  const status = useAppStore((s) => s.status);
  const problem = useAppStore((s) => s.problem);

  return (
    <div className="app">
      <header className="app__header">
        <h1 className="app__title">tabtune</h1>
        <p className="app__tagline">LoRA fine-tuning of open LLMs in this tab, on your own GPU.</p>
      </header>
      <main className="page" data-testid="app" data-status={status}>
        {status === 'checking' && (
          <section className="card" data-testid="gpu-checking">
            <p>Checking for WebGPU…</p>
          </section>
        )}
        {status === 'unsupported' && <Unsupported problem={problem} />}
        {status === 'failed' && (
          <section className="card card--error" data-testid="gpu-failed">
            <h2>The GPU could not be started</h2>
            <p>{problem}</p>
          </section>
        )}
        {status === 'ready' && (
          <>
            <GpuStatus />
            <ModelPanel />
            <TrainPanel />
            <RunList />
            <AdapterLibrary />
            <Playground />
            <AboutDevice />
          </>
        )}
        {status !== 'unsupported' && <LogView />}
      </main>
    </div>
  );
}
