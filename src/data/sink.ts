// Every reader hands its rows here, so the bad-row policy (stop or skip), the shape fixed by the first
// valid row and the "no valid rows" summary are decided in one place, the same for every container.

import { DatasetError } from './errors.ts';
import type { ReadResult } from './read.ts';
import { toExample } from './records.ts';
import type { BadRowPolicy, DatasetFormat, Example, RowProblem, SourcedExample } from './types.ts';

/** Bad rows listed in the "no valid rows" error. */
const PROBLEMS_SHOWN = 3;

export class Sink {
  readonly examples: SourcedExample[] = [];
  readonly skipped: RowProblem[] = [];

  constructor(
    readonly file: string,
    readonly policy: BadRowPolicy,
    public format: DatasetFormat | null,
  ) {}

  bad(line: number, message: string): void {
    if (this.policy === 'stop') throw new DatasetError(this.file, line, message);
    this.skipped.push({ file: this.file, line, message });
  }

  add(example: Example, line: number): void {
    this.examples.push({ example, source: { file: this.file, line } });
  }

  /** One parsed record; `cells` when its values are CSV cells (strings; JSON for lists). */
  record(value: unknown, line: number, cells = false): void {
    const r = toExample(value, this.format, cells);
    if (typeof r === 'string') return this.bad(line, r);
    this.format ??= r.kind;
    this.add(r, line);
  }

  finish(): ReadResult {
    if (this.examples.length === 0 || this.format === null) {
      if (this.skipped.length === 0) throw new DatasetError(this.file, 0, 'holds no examples');
      const first = this.skipped.slice(0, PROBLEMS_SHOWN).map((p) => `line ${p.line}: ${p.message}`);
      const more = this.skipped.length - first.length;
      throw new DatasetError(this.file, 0, `no valid rows; first problems: ${first.join('; ')}${more > 0 ? `; and ${more} more` : ''}`);
    }
    return { format: this.format, examples: this.examples, skipped: this.skipped };
  }
}
