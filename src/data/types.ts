// The shapes a dataset takes on its way to training: raw examples as users write them, where each
// came from, and the problems found in bad rows.

export type DatasetFormat = 'text' | 'completion' | 'chat' | 'alpaca' | 'tokens';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** An assistant turn's reasoning given apart from its content (the dataset's "reasoning_content"). */
  reasoning?: string;
}

export type Example =
  | { kind: 'text'; text: string }
  | { kind: 'completion'; prompt: string; completion: string }
  | { kind: 'chat'; messages: ChatMessage[] }
  | { kind: 'alpaca'; instruction: string; input: string; output: string }
  | { kind: 'tokens'; inputIds: number[]; labels?: number[]; positionIds?: number[] };

/** Where an example came from: the file and its 1-based line (JSONL, TXT) or row (CSV, JSON array). */
export interface ExampleSource {
  file: string;
  line: number;
}

export interface SourcedExample {
  example: Example;
  source: ExampleSource;
}

/** A bad row, reported with its place so the user can fix it. */
export interface RowProblem extends ExampleSource {
  message: string;
}

/** What to do with a bad row: stop with its error (default), or skip it and report it. */
export type BadRowPolicy = 'stop' | 'skip';
