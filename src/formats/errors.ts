// Named errors whose messages a user can act on: each names the file (and tensor or field) at fault.

/** A file the user supplied is malformed or unsupported. */
export class FormatError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'FormatError';
  }
}

/** A tensor is missing, of the wrong shape, or of an unsupported dtype. */
export class TensorError extends FormatError {
  constructor(
    file: string,
    readonly tensor: string,
    detail: string,
  ) {
    super(file, `tensor "${tensor}" ${detail}`);
    this.name = 'TensorError';
  }
}

/**
 * A PEFT adapter that Hugging Face peft would refuse, that tabtune cannot apply, or that does not fit
 * the base model. `key` is the config field or the tensor at fault; the message names its file.
 */
export class AdapterError extends FormatError {
  constructor(
    file: string,
    readonly key: string,
    detail: string,
  ) {
    super(file, detail);
    this.name = 'AdapterError';
  }
}
