import { createHash, type Hash } from "node:crypto";
import { Readable } from "node:stream";
import { throwIfAborted, toWorkspaceSyncError } from "../../errors.js";
import { sourceStream } from "../../util/source-stream.js";
import type { LocalSource } from "../types.js";

/** Dropbox hashes content in blocks of this size. */
export const DROPBOX_HASH_BLOCK = 4 * 1024 * 1024;

/**
 * Incremental Dropbox `content_hash`: SHA-256 over the concatenated SHA-256 digests of each
 * 4 MiB block. Memory stays at one block hasher whatever the input size.
 */
export class DropboxContentHasher {
  private readonly overall: Hash = createHash("sha256");
  private block: Hash = createHash("sha256");
  private blockFill = 0;

  /** Feeds more bytes. */
  update(data: Uint8Array): this {
    let pos = 0;
    while (pos < data.length) {
      const take = Math.min(DROPBOX_HASH_BLOCK - this.blockFill, data.length - pos);
      this.block.update(data.subarray(pos, pos + take));
      this.blockFill += take;
      pos += take;
      if (this.blockFill === DROPBOX_HASH_BLOCK) {
        this.overall.update(this.block.digest());
        this.block = createHash("sha256");
        this.blockFill = 0;
      }
    }
    return this;
  }

  /** The hex digest. Call once. */
  digest(): string {
    if (this.blockFill > 0) this.overall.update(this.block.digest());
    return this.overall.digest("hex");
  }
}

/** The Dropbox `content_hash` of a buffer. */
export function contentHashOf(data: Uint8Array): string {
  return new DropboxContentHasher().update(data).digest();
}

/**
 * Computes the Dropbox `content_hash` of a local file (a path or a checked {@link LocalSource}) or
 * of a stream, streaming. Equal to the `content_hash` Dropbox reports for the same bytes.
 */
export async function dropboxContentHash(source: string | LocalSource | Readable, options: { signal?: AbortSignal } = {}): Promise<string> {
  const own = !(source instanceof Readable);
  const stream = own ? sourceStream(source) : source;
  const hasher = new DropboxContentHasher();
  try {
    for await (const chunk of stream) {
      throwIfAborted(options.signal);
      hasher.update(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array));
    }
  } catch (err) {
    if (own) stream.destroy();
    throw toWorkspaceSyncError(err);
  }
  return hasher.digest();
}
