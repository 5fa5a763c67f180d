/**
 * A pass-through Transform that computes the SHA-256 of everything flowing through it: used to
 * record the ciphertext hash of a snapshot when it is written and to check it on restore.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { WorkspaceSyncError } from "../errors.js";

/** Options for {@link createHashStream}. */
export interface HashStreamOptions {
  /** Expected hex digest; when given, a mismatch fails the stream at its end with `INTEGRITY_MISMATCH`. */
  expected?: string;
  /** Snapshot name or path, put on errors. */
  path?: string;
}

/** Pass-through SHA-256; see {@link createHashStream}. */
export class HashStream extends Transform {
  /** Bytes seen so far. */
  bytes = 0;
  #hash: Hash = createHash("sha256");
  #digest: string | undefined;
  readonly #expected: string | undefined;
  readonly #path: string | undefined;

  constructor(options: HashStreamOptions = {}) {
    super();
    this.#expected = options.expected?.toLowerCase();
    this.#path = options.path;
  }

  /** Lower-case hex SHA-256 of all bytes, once the input has ended (undefined before). */
  get digest(): string | undefined {
    return this.#digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const digest = this.#hash.digest("hex");
    this.#digest = digest;
    if (this.#expected !== undefined && this.#expected !== digest) {
      callback(
        new WorkspaceSyncError(
          "INTEGRITY_MISMATCH",
          `snapshot content does not match its recorded SHA-256 (expected ${this.#expected}, got ${digest}): it was changed or damaged in storage; download it again or restore an older snapshot`,
          { path: this.#path },
        ),
      );
      return;
    }
    callback();
  }
}

/**
 * A pass-through Transform hashing what flows through. `stream.digest` (hex) and `stream.bytes`
 * are final once the writable side has finished (before the readable 'end'). It must be read
 * from like any Transform: as the last stage of a pipeline, pipe it to a sink.
 */
export function createHashStream(options: HashStreamOptions = {}): HashStream {
  return new HashStream(options);
}
