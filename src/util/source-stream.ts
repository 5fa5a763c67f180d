/**
 * A read stream of a {@link LocalSource} that opens the file only when first read (with the
 * source's checks, at that moment): a backend that copies the file itself destroys it unread, and
 * no file is opened for nothing.
 */
import type { FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import type { LocalSource } from "../providers/types.js";
import { localSourceOf } from "./safe-fs.js";

/** Largest read, and the stream's buffer. */
const READ_CHUNK = 1024 * 1024;

class SourceStream extends Readable {
  private fh: FileHandle | undefined;
  private readonly chunk: number;

  constructor(
    private readonly source: LocalSource,
    expectedSize: number | undefined,
  ) {
    super({ highWaterMark: READ_CHUNK });
    this.chunk = expectedSize === undefined ? READ_CHUNK : Math.min(READ_CHUNK, Math.max(16 * 1024, expectedSize + 1));
  }

  override _read(): void {
    void this.readSome();
  }

  private async readSome(): Promise<void> {
    try {
      if (!this.fh) {
        const { handle } = await this.source.open();
        if (this.destroyed) {
          await handle.close();
          return;
        }
        this.fh = handle;
      }
      const buf = Buffer.allocUnsafe(this.chunk);
      const { bytesRead } = await this.fh.read(buf, 0, buf.length, null);
      if (!this.destroyed) this.push(bytesRead > 0 ? buf.subarray(0, bytesRead) : null);
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    if (!fh) return cb(err);
    fh.close().then(
      () => cb(err),
      () => cb(err),
    );
  }
}

/**
 * The bytes of `file` (a path is opened as {@link localSourceOf} says), read when first asked for.
 * `expectedSize` sizes the reads of a small file to it.
 */
export function sourceStream(file: string | LocalSource, expectedSize?: number): Readable {
  return new SourceStream(localSourceOf(file), expectedSize);
}
