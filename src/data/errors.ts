// Errors about a user's data, always naming the file and the line (or row) at fault.

export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(line > 0 ? `${file} line ${line}: ${detail}` : `${file}: ${detail}`);
    this.name = 'DatasetError';
  }
}
