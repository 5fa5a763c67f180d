/**
 * Parallel gunzip of indexed gzip members (see bgzf-index.ts): the stream is cut into members by
 * the sizes in their headers, up to `concurrency` members inflate at once on zlib's thread pool,
 * and their output is emitted in stream order.
 *
 * The index is a hint, never trusted. A member is accepted only when zlib inflates it completely,
 * with valid CRC-32 and ISIZE, to exactly the size its trailer claims, having consumed exactly the
 * bytes the header announced; its output is then what a sequential gunzip gives for those bytes.
 * Anything else (no index, a size that lies, is zero, runs past the end or past the next member,
 * damaged data) switches to the sequential path from that member on: the remaining bytes go to one
 * `zlib.createGunzip()`, exactly as a stream without the index is read, which either inflates them
 * or reports the damage. So a wrong index costs speed, never data, and damage is reported by the
 * same zlib errors as before.
 *
 * Memory: at most `concurrency` members (each at most MAX_INDEXED_MEMBER bytes, inflating to at most
 * MAX_INDEXED_ISIZE bytes) plus the source chunk being cut, whatever the stream's size.
 */
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { abortError } from "../errors.js";
import { ReleaseQueue, handOver } from "../util/release-buffer.js";
import { MAX_INDEXED_ISIZE, memberIsize, readMemberHeader } from "./bgzf-index.js";

/** Options of {@link parallelGunzip}. */
export interface ParallelGunzipOptions {
  /** Members inflating at once (default {@link DEFAULT_GUNZIP_CONCURRENCY}). */
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * Largest output buffer, of an indexed member and of the sequential path (default: a member's
   * whole output in one buffer, and 256 KiB on the sequential path).
   */
  chunkSize?: number;
  /** Called once when the reader goes sequential, with the reason (for tests and diagnostics). */
  onSequential?: (reason: SequentialReason) => void;
}

/**
 * Why {@link parallelGunzip} inflates the rest of a stream in order: a member without a usable
 * index (none, or a size out of range), an indexed member that did not inflate exactly as
 * announced, or a stream that ends inside an announced member.
 */
export type SequentialReason = "no-index" | "bad-member" | "short-stream";

/**
 * Members inflating at once by default: two keep both cores of a small machine busy, the third is
 * ready when the consumer (tar parsing) has the main thread busy. Four were no faster on the
 * bench restore once small files were written on a thread of their own, and cost ~7 MiB of peak
 * RSS (members are held whole until their turn).
 */
export const DEFAULT_GUNZIP_CONCURRENCY = 3;

/** Bytes that follow the gzip stream and do not start a member (gunzip would ignore them). */
export class GzipTrailingDataError extends Error {
  readonly code = "ERR_GZIP_TRAILING_DATA";
  constructor() {
    super("unexpected data after the end of the gzip stream");
  }
}

const EMPTY = Buffer.alloc(0);
/** Capacity of a reused member input buffer: a 1 MiB block stored, with room to spare. */
const INPUT_CAPACITY = 1024 * 1024 + 64 * 1024;

/** Reads a byte source chunk by chunk, with a cursor in the current chunk. */
class ChunkCursor {
  chunk: Buffer = EMPTY;
  pos = 0;
  ended = false;

  /**
   * @param it the source's chunks
   * @param onLeave called with each chunk the cursor moves past (or copies out of, see
   *   {@link ensure}): the cursor holds it no more, though a member cut from it may still inflate
   */
  constructor(
    private readonly it: AsyncIterator<Buffer>,
    private readonly onLeave: (chunk: Buffer) => void = () => {},
  ) {}

  #leave(): void {
    if (this.chunk !== EMPTY) this.onLeave(this.chunk);
  }

  get available(): number {
    return this.chunk.length - this.pos;
  }

  /** Makes the next bytes available; false at the end of the source. */
  async next(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.ended) return false;
      const r = await this.it.next();
      this.#leave();
      if (r.done === true) {
        this.ended = true;
        this.chunk = EMPTY;
        this.pos = 0;
        return false;
      }
      this.chunk = r.value;
      this.pos = 0;
    }
    return true;
  }

  /**
   * Makes at least `n` bytes available in `chunk` from `pos` (joining chunks when needed: rare, a
   * member header across a chunk boundary); false when the source ends first.
   */
  async ensure(n: number): Promise<boolean> {
    while (this.available < n) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done === true) {
        this.ended = true;
        return false;
      }
      if (this.available > 0) {
        const joined = Buffer.concat([this.chunk.subarray(this.pos), r.value]);
        this.#leave();
        this.onLeave(r.value);
        this.chunk = joined;
      } else {
        this.#leave();
        this.chunk = r.value;
      }
      this.pos = 0;
    }
    return true;
  }

  /** Takes up to `n` bytes of the current chunk. */
  take(n: number): Buffer {
    const k = Math.min(n, this.available);
    const out = this.chunk.subarray(this.pos, this.pos + k);
    this.pos += k;
    return out;
  }

  /** The rest of the source, from the cursor on. */
  async *rest(): AsyncGenerator<Buffer> {
    if (this.available > 0) yield this.take(this.available);
    while (await this.next()) yield this.take(this.available);
  }
}

/** One member being inflated. */
interface Piece {
  input: Buffer;
  /** A pooled buffer `input` lives in, to reuse once the member is out. */
  owned: Buffer | undefined;
  output: Promise<Inflated | undefined>;
}

/** A member's output: its chunks, and the size of the buffers zlib allocated for them. */
interface Inflated {
  chunks: Buffer[];
  allocated: number;
}

/**
 * Inflates one member (`input` is exactly the announced bytes) on the thread pool: resolves with
 * its output, or `undefined` when it is not exactly one valid member of `isize` bytes of output
 * (never rejects: the sequential path then finds out what is wrong).
 */
function inflateMember(input: Buffer, isize: number, chunkSize: number | undefined): Promise<Inflated | undefined> {
  return new Promise((resolve) => {
    // By default one output buffer of the claimed size plus a byte: one thread-pool round trip,
    // and zlib, which allocates its next buffer whenever one is full, allocates no other (at the
    // claimed size exactly, a spare one per member: a quarter more fresh memory). A byte past the
    // claim fails the member below. With `chunkSize`, buffers of at most that, the last one cut
    // to what is left of the claim.
    const allocated = Math.max(64, chunkSize === undefined ? isize + 1 : Math.min(chunkSize, isize));
    const gz = zlib.createGunzip({ chunkSize: allocated });
    const out: Buffer[] = [];
    let got = 0;
    gz.on("data", (chunk: Buffer) => {
      got += chunk.length;
      if (got > isize) gz.destroy(new Error("member inflates to more than its trailer says"));
      else out.push(chunk);
    });
    gz.once("error", () => resolve(undefined));
    gz.once("end", () => resolve(got === isize && gz.bytesWritten === input.length ? { chunks: out, allocated } : undefined));
    gz.end(input);
  });
}

/**
 * Inflates a (multi-member) gzip stream, in parallel where its members are indexed; see the module
 * comment. Yields the uncompressed bytes in order. Errors: zlib's own errors for damaged data (as
 * `zlib.createGunzip()` raises them), {@link GzipTrailingDataError} for bytes after the last member
 * that do not start another, the source's errors unchanged, and an abort error when `signal` fires.
 */
export async function* parallelGunzip(source: AsyncIterable<Buffer>, options: ParallelGunzipOptions = {}): AsyncGenerator<Buffer> {
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_GUNZIP_CONCURRENCY);
  const signal = options.signal;
  // Indexed members inflate into one buffer each (see inflateMember), which their reader frees
  // once it is done with them (release-buffer.ts; left to the garbage collector, 1 MiB outputs
  // cost ~40 MiB more peak RSS on the bench restore than 256 KiB ones). The sequential path
  // writes 256 KiB buffers.
  const memberChunk = options.chunkSize === undefined ? undefined : Math.max(64, options.chunkSize);
  const outChunk = Math.max(64, options.chunkSize ?? 256 * 1024);
  const inflight: Piece[] = [];
  const free: Buffer[] = [];
  let members = 0;
  /** Members inflated and emitted, in order. */
  let emitted = 0;
  /**
   * Source chunks the cursor moved past, each until the members cut so far are out (members cut
   * from it in place read it until they are inflated); then released (see release-buffer.ts: only
   * what the source's producer handed over is freed). Never on the sequential path, whose gunzip
   * reads the chunks as it goes.
   */
  const inputs = new ReleaseQueue();
  const cursor = new ChunkCursor(source[Symbol.asyncIterator](), (chunk) => {
    inputs.add(chunk, members);
    inputs.releaseUpTo(emitted);
  });

  const checkAbort = (): void => {
    if (signal?.aborted) throw abortError(signal.reason);
  };

  /** Yields the head piece's output; returns the inputs from it on when it failed. */
  async function* emitHead(): AsyncGenerator<Buffer, Buffer[] | undefined> {
    const head = inflight[0] as Piece;
    const out = await head.output;
    checkAbort();
    if (out === undefined) {
      const inputs = inflight.map((p) => p.input);
      inflight.length = 0;
      return inputs;
    }
    inflight.shift();
    emitted++;
    inputs.releaseUpTo(emitted);
    if (head.owned !== undefined && free.length <= concurrency) free.push(head.owned);
    // zlib's output of a finished member is held by no one else: its reader may free it (not
    // where zlib took it from Node's shared pool, which handOver tells by the size).
    for (const b of out.chunks) {
      handOver(b, out.allocated);
      yield b;
    }
    return undefined;
  }

  /** Emits every piece in flight; returns the inputs from the first failed one on. */
  async function* drain(): AsyncGenerator<Buffer, Buffer[] | undefined> {
    while (inflight.length > 0) {
      const failed = yield* emitHead();
      if (failed !== undefined) return failed;
    }
    return undefined;
  }

  /** Inflates `prefix` and then the rest of the source in order, with one gunzip stream. */
  async function* sequential(prefix: Buffer[], reason: SequentialReason): AsyncGenerator<Buffer> {
    options.onSequential?.(reason);
    inputs.stop();
    let fed = 0;
    let restDone = false;
    const input = Readable.from(
      (async function* () {
        for (let i = 0; i < prefix.length; i++) {
          const b = prefix[i] as Buffer;
          prefix[i] = EMPTY;
          fed += b.length;
          yield b;
        }
        for await (const b of cursor.rest()) {
          fed += b.length;
          yield b;
        }
        restDone = true;
      })(),
      { objectMode: false, highWaterMark: 64 * 1024 },
    );
    const gunzip = zlib.createGunzip({ chunkSize: outChunk });
    input.once("error", (err) => gunzip.destroy(err));
    input.pipe(gunzip);
    try {
      for await (const chunk of gunzip as AsyncIterable<Buffer>) {
        checkAbort();
        yield chunk;
      }
      // Node's gunzip stops quietly at bytes that do not start another member.
      if (!restDone || gunzip.bytesWritten !== fed) throw new GzipTrailingDataError();
    } finally {
      input.destroy();
      gunzip.destroy();
    }
  }

  try {
    for (;;) {
      checkAbort();
      // The next member's header, without consuming it.
      let header = readMemberHeader(cursor.chunk.subarray(cursor.pos));
      while (header.kind === "more") {
        const more = cursor.available === 0 ? await cursor.next() : await cursor.ensure(header.need);
        header = readMemberHeader(cursor.chunk.subarray(cursor.pos), !more && cursor.ended);
      }
      if (cursor.available === 0 && cursor.ended) {
        // The end of the stream, at a member boundary.
        const failed = yield* drain();
        if (failed !== undefined) yield* sequential(failed, "bad-member");
        else if (members === 0) yield* sequential([], "no-index"); // empty input: gunzip's own error
        return;
      }
      if (header.kind !== "indexed") {
        const failed = yield* drain();
        if (failed !== undefined) {
          yield* sequential(failed, "bad-member");
          return;
        }
        if (header.kind === "not-gzip" && members > 0) throw new GzipTrailingDataError();
        yield* sequential([], "no-index");
        return;
      }

      // Cut the member: in place when it lies within the current chunk, else copied together.
      const size = header.size;
      let input: Buffer;
      let owned: Buffer | undefined;
      if (cursor.available >= size) {
        input = cursor.take(size);
      } else {
        const i = free.findIndex((b) => b.length >= size);
        owned = i >= 0 ? (free.splice(i, 1)[0] as Buffer) : Buffer.allocUnsafeSlow(Math.max(size, INPUT_CAPACITY));
        let filled = 0;
        while (filled < size && (cursor.available > 0 || (await cursor.next()))) {
          const part = cursor.take(size - filled);
          owned.set(part, filled);
          filled += part.length;
        }
        input = owned.subarray(0, filled);
        if (filled < size) {
          // The stream ends inside the announced member.
          const failed = yield* drain();
          yield* sequential([...(failed ?? []), input], failed ? "bad-member" : "short-stream");
          return;
        }
      }
      members++;
      const isize = memberIsize(input);
      const output = isize <= MAX_INDEXED_ISIZE ? inflateMember(input, isize, memberChunk) : Promise.resolve(undefined);
      inflight.push({ input, owned, output });
      while (inflight.length >= concurrency) {
        const failed = yield* emitHead();
        if (failed !== undefined) {
          yield* sequential(failed, "bad-member");
          return;
        }
      }
    }
  } finally {
    inflight.length = 0;
  }
}
