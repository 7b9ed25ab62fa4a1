// The worker's own errors: requests that do not fit the state the engine is in.

export class NoModelError extends Error {
  constructor() {
    super('No model is loaded yet: load a base model first.');
    this.name = 'NoModelError';
  }
}

export class NoAdapterError extends Error {
  constructor() {
    super('No adapter has been trained or chosen yet: train one, or pick one from the saved adapters.');
    this.name = 'NoAdapterError';
  }
}

/** A request that does not fit the run or model at hand (another base model, a run already going). */
export class RunMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunMismatchError';
  }
}
