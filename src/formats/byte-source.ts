// A random-access view of one file, wherever it lives (disk in Node, a File in the browser,
// a downloaded buffer). Checkpoints are read tensor by tensor through it, never as one string.

export interface ByteSource {
  /** Shown in error messages: a path or file name. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes starting at `offset`; rejects when the file is shorter. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** The files of one model folder (local, dropped in, or a hub repo), looked up by relative name. */
export interface ModelFiles {
  /** A folder path, repo id or "dropped files": shown to the user. */
  readonly name: string;
  /** The file, or null when the folder has no such file. */
  get(file: string): Promise<ByteSource | null>;
  /**
   * Set when the model is one GGUF file (formats/gguf-model.ts): its weights and config come from
   * it. A function, since the file may first have to be found or fetched (a hub repo's GGUF).
   */
  readonly gguf?: () => Promise<ByteSource>;
}

export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      if (offset < 0 || offset + length > bytes.byteLength) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${bytes.byteLength} bytes)`);
      }
      return bytes.subarray(offset, offset + length);
    },
  };
}

export async function readText(src: ByteSource): Promise<string> {
  return new TextDecoder().decode(await src.read(0, src.size));
}

/** A model folder held in memory (a generated test model, or files fetched by the app). */
export function memoryFiles(name: string, files: Map<string, Uint8Array>): ModelFiles {
  return {
    name,
    async get(file) {
      const bytes = files.get(file);
      return bytes ? bytesSource(`${name}/${file}`, bytes) : null;
    },
  };
}
