// Types for bin/stderr-filter.mjs (plain JavaScript: bin/tabtune.mjs runs it before any TypeScript loader).

export class StderrFilter {
  constructor(write: (s: string) => void);
  /** The native diagnostics that were dropped, for a failure report. */
  readonly diagnostics: string[];
  push(chunk: string): void;
  end(): void;
}
