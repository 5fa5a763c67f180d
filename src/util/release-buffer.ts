/**
 * Freeing large Buffers the moment their last reader is done with them, instead of at V8's next
 * garbage collection.
 *
 * A restore moves ~2.5 GB of fresh Buffers through its main thread for a 1 GB snapshot (decrypted
 * pieces, inflated members). V8 frees a Buffer's memory only when a collection finds its small JS
 * object dead, and it starts a full collection for every ~64 MiB of such outside memory: about a
 * hundred per restore, and each new Buffer lands on fresh pages that fault in one by one. Freed
 * at once, the memory is reused by the next Buffer of the same size.
 *
 * Freeing is detaching: the ArrayBuffer gives up its memory and every view of it reads as empty.
 * That is only safe where nothing else can still read it, so it is a contract between the two
 * ends of a pipeline: the producer calls {@link handOver} for a Buffer whose memory no one else
 * holds (a message's transferred buffer, zlib's output of a finished stream), and the last
 * reader, which knows no native call still reads it (a write finished, a copy made), calls
 * {@link release}. A Buffer that was not handed over is left to the collector, so every other
 * reader (a caller's own stream, a test) is unaffected, and `release` is only ever a saving.
 */
import { Transform, pipeline, type Readable, type TransformCallback } from "node:stream";
import { MessageChannel } from "node:worker_threads";

/** Buffers smaller than this are left to the collector (small ones share Node's pool). */
const MIN_BYTES = 64 * 1024;

/** Handed-over memory, by its ArrayBuffer: the views of it still to be released. */
const handed = new WeakMap<ArrayBuffer, number>();

/**
 * Marks `buf`'s memory as the pipeline's to free: no one outside the pipeline holds it. Call once
 * per view passed on; several views of one ArrayBuffer free it when the last one is released.
 *
 * `allocated` is the size its producer asked for (default: the view's own length, for a Buffer
 * that is its whole ArrayBuffer). The memory is marked only when its ArrayBuffer has exactly that
 * size: a Buffer Node served from its shared pool (any request under half of `Buffer.poolSize`,
 * which a host may raise to megabytes) lives in a larger ArrayBuffer that other Buffers share, and
 * freeing it would empty theirs.
 */
export function handOver(buf: Uint8Array, allocated: number = buf.byteLength): void {
  const ab = buf.buffer;
  if (!(ab instanceof ArrayBuffer) || ab.byteLength < MIN_BYTES || ab.byteLength !== allocated) return;
  handed.set(ab, (handed.get(ab) ?? 0) + 1);
}

/** Whether `buf` was handed over and not yet released (for tests and assertions). */
export function isHandedOver(buf: Uint8Array): boolean {
  return buf.buffer instanceof ArrayBuffer && handed.has(buf.buffer);
}

/**
 * Called by the last reader of `buf` once nothing reads it any more (no pending write or inflate,
 * no view kept): frees its memory now if it was handed over and this was its last view. A Buffer
 * that was not handed over is left alone.
 */
export function release(buf: Uint8Array): void {
  const ab = buf.buffer;
  if (!(ab instanceof ArrayBuffer)) return;
  const n = handed.get(ab);
  if (n === undefined) return;
  if (n > 1) {
    handed.set(ab, n - 1);
    return;
  }
  handed.delete(ab);
  detach(ab);
}

/**
 * Buffers waiting for their reader to be done with them, each until a mark that only grows (a
 * stream offset, a count of members inflated) reaches the value it was queued with.
 */
export class ReleaseQueue {
  #items: { buf: Uint8Array; at: number }[] = [];
  #head = 0;
  #stopped = false;

  /** Queues `buf` to be released once the mark reaches `at` (values queued never decrease). */
  add(buf: Uint8Array, at: number): void {
    if (!this.#stopped) this.#items.push({ buf, at });
  }

  /** Releases every queued Buffer whose value is at most `mark`. */
  releaseUpTo(mark: number): void {
    const items = this.#items;
    for (let item = items[this.#head]; item !== undefined && item.at <= mark; item = items[++this.#head]) release(item.buf);
    if (this.#head > 64 && this.#head * 2 > items.length) {
      items.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Releases nothing more: what is queued, and whatever comes, is left to the collector. */
  stop(): void {
    this.#stopped = true;
    this.#items = [];
    this.#head = 0;
  }
}

/**
 * `source`'s chunks, each handed over as it passes (those that are a whole ArrayBuffer of their
 * own): for a stream that keeps no chunk once it has pushed it (fs.ReadStream). The stream
 * returned fails with `source`'s errors, and destroying it destroys `source`.
 */
export function handingOver(source: Readable): Readable {
  const stage = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      handOver(chunk);
      callback(null, chunk);
    },
  });
  pipeline(source, stage, () => {}); // errors reach the reader through `stage`
  return stage;
}

/** `ArrayBuffer.prototype.transfer` (Node 22 and later; Node 20 only behind a V8 flag). */
type Transferable = ArrayBuffer & { transfer?: (length?: number) => ArrayBuffer };

let closedPort: MessageChannel["port1"] | undefined;

/**
 * Detaches `ab`, which frees its memory. Where `transfer` is missing (Node 20), a message posted
 * with it in the transfer list to a port whose other end is closed: the HTML spec has postMessage
 * serialize (and so detach) the transfer list even then, and Node drops the message, freeing the
 * memory. A buffer that cannot be detached (Node marks some untransferable) is left as it is.
 */
function detach(ab: Transferable): void {
  try {
    if (typeof ab.transfer === "function") {
      ab.transfer(0);
      return;
    }
    if (closedPort === undefined) {
      const channel = new MessageChannel();
      channel.port2.close();
      closedPort = channel.port1;
      closedPort.unref();
    }
    closedPort.postMessage(null, [ab]);
  } catch {
    // Left to the collector.
  }
}
