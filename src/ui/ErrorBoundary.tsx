// Last line of defence: a rendering error shows a message instead of a blank page.

import { Component, type ReactNode } from 'react';

interface Props {
  children: ReactNode;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <main className="page">
        <section className="card card--error" data-testid="app-crashed">
          <h2>Something broke</h2>
          <p>The page hit an error it could not recover from. Reloading usually helps.</p>
          <pre className="mono">
            {error.name}: {error.message}
          </pre>
        </section>
      </main>
    );
  }
}
