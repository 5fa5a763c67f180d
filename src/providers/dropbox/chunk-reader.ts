import type { Readable } from "node:stream";

/**
 * Reads a stream in chunks of exactly `chunkSize` bytes (the last one shorter, possibly empty),
 * holding at most one chunk plus the stream's own buffer.
 */
export class ChunkReader {
  private readonly iterator: AsyncIterator<unknown>;
  private carry: Buffer | undefined;
  private done = false;

  constructor(
    source: Readable,
    private readonly chunkSize: number,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** True once the stream ended and every byte was handed out. */
  get ended(): boolean {
    return this.done && this.carry === undefined;
  }

  /** The next chunk: `chunkSize` bytes, or fewer at the end of the stream. Not re-entrant. */
  async next(): Promise<Buffer> {
    const parts: Buffer[] = [];
    let size = 0;
    if (this.carry) {
      parts.push(this.carry);
      size = this.carry.length;
      this.carry = undefined;
    }
    while (size < this.chunkSize && !this.done) {
      const r = await this.iterator.next();
      if (r.done) {
        this.done = true;
        break;
      }
      const v = r.value;
      const buf = typeof v === "string" ? Buffer.from(v) : Buffer.isBuffer(v) ? v : Buffer.from((v as Uint8Array).buffer, (v as Uint8Array).byteOffset, (v as Uint8Array).byteLength);
      if (buf.length === 0) continue;
      parts.push(buf);
      size += buf.length;
    }
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    if (size > this.chunkSize) {
      this.carry = all.subarray(this.chunkSize);
      return all.subarray(0, this.chunkSize);
    }
    return all;
  }

  /** Stops reading (destroys the stream through its iterator). */
  async cancel(): Promise<void> {
    this.carry = undefined;
    this.done = true;
    await this.iterator.return?.().catch(() => undefined);
  }
}
