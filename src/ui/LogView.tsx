// The app's log: start-up checks now, worker events later.

import { useAppStore } from '../state/store.ts';

export function LogView() {
  const log = useAppStore((s) => s.log);
  if (log.length === 0) return null;
  return (
    <section className="card" data-testid="log">
      <h2>Log</h2>
      <ol className="log mono">
        {log.map((e, i) => (
          <li key={i} className={`log__entry log__entry--${e.level}`}>
            <time dateTime={new Date(e.time).toISOString()}>{new Date(e.time).toLocaleTimeString('en-GB')}</time> {e.text}
          </li>
        ))}
      </ol>
    </section>
  );
}
