// Shown when there is no WebGPU: says what is missing and which browsers work.

interface Props {
  /** What exactly is missing, from the start-up check. */
  problem: string | null;
}

export function Unsupported({ problem }: Props) {
  return (
    <section className="card card--warn" data-testid="unsupported">
      <h2>tabtune needs WebGPU</h2>
      <p>
        tabtune trains models on your own GPU through WebGPU, and this browser does not offer it here.
      </p>
      <p data-testid="unsupported-reason">
        <strong>What is missing:</strong> {problem ?? 'WebGPU is unavailable.'}
      </p>
      <h3>Browsers that work</h3>
      <ul data-testid="supported-browsers">
        <li>Chrome or Edge 113 or newer (Windows, macOS, ChromeOS)</li>
        <li>Safari 26 or newer</li>
        <li>Firefox 141 or newer on Windows</li>
      </ul>
      <p className="muted">
        If you already use one of these, check that hardware acceleration is turned on and that the page is
        opened over https:// or from localhost.
      </p>
    </section>
  );
}
