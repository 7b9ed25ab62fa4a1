// Named errors for storage failures, with messages a user can act on. The UI tells them apart by
// `name` (they cross the worker boundary as ErrorReply.name), so keep the names stable.

export class StorageError extends Error {
  constructor(
    /** What was being done: 'save', 'read', 'list', 'update', 'delete', 'rename', 'open'. */
    readonly operation: string,
    /** The record, as people would name it: `run "abc"`, `adapter "xyz"`. */
    readonly record: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }

  static failed(operation: string, record: string, detail: string, cause?: unknown): StorageError {
    return new StorageError(operation, record, `Could not ${operation} ${record}: ${detail}`, { cause });
  }
}

/** The browser refused a write because the site's storage quota (or the disk) is full. */
export class StorageFullError extends StorageError {
  constructor(operation: string, record: string, options?: { cause?: unknown }) {
    super(
      operation,
      record,
      `The browser's storage for this site is full, so ${record} could not be ${pastTense(operation)}. ` +
        'Everything saved before is kept. To make room, delete old runs or adapters in the app, ' +
        'or free disk space on this device, then try again.',
      options,
    );
    this.name = 'StorageFullError';
  }
}

function pastTense(operation: string): string {
  const done: Record<string, string> = {
    save: 'saved',
    update: 'updated',
    rename: 'renamed',
    delete: 'deleted',
    open: 'opened',
    read: 'read',
    list: 'listed',
  };
  return done[operation] ?? `${operation}ed`;
}

/**
 * Quota errors come as a DOMException named QuotaExceededError, either thrown by the request or as
 * the error of a transaction the browser aborted at commit. Older Firefox used its own name.
 */
export function isQuotaError(e: unknown): boolean {
  if (!(e instanceof Error || e instanceof DOMException)) return false;
  return e.name === 'QuotaExceededError' || e.name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

/** Any failure as a StorageError (quota as StorageFullError); StorageErrors pass through. */
export function toStorageError(e: unknown, operation: string, record: string): StorageError {
  if (e instanceof StorageError) return e;
  if (isQuotaError(e)) return new StorageFullError(operation, record, { cause: e });
  const detail = e instanceof Error || e instanceof DOMException ? `${e.name}: ${e.message}` : String(e);
  return StorageError.failed(operation, record, detail, e);
}
