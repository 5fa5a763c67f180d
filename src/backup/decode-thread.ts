/**
 * Decoding a snapshot (integrity check, decryption, mark removal; see decode-stages.ts) on a
 * helper thread (restore-thread.ts; decode-serve.ts is the other side). A restore keeps the main thread busy parsing the archive and checking
 * its entries; hashing and decrypting the stored bytes there as well cost it about a fifth of its
 * time on the bench restore, while the second core sat partly idle.
 *
 * {@link createSnapshotDecoder} is the entry point: it builds the stages on the helper thread (the
 * caller's, or one of its own) where the thread's module is present, and on this thread
 * otherwise (same stages, same results, same errors). Memory: at most {@link IN_FLIGHT} stored bytes and about as much output are in flight,
 * whatever the snapshot's size.
 */
import { Duplex } from "node:stream";
import type { MessagePort } from "node:worker_threads";
import { WorkspaceSyncError, type ErrorCode } from "../errors.js";
import type { KdfSpec } from "../crypto/kdf.js";
import { RestoreThread, threadStopped } from "./restore-thread.js";
import { handOver, release } from "../util/release-buffer.js";
import { createDecodeStages, type SnapshotDecodeResult, type SnapshotDecodeSpec } from "./decode-stages.js";

/** Start data of the worker. */
export interface DecodeWorkerData {
  spec: SnapshotDecodeSpec;
  /** Stop at the authentication mark (the caller refuses a marked stream). */
  refuseMarked: boolean;
}

/** An error, as it crosses from the worker. */
export interface WireError {
  message: string;
  code: string | undefined;
  path: string | undefined;
  retryable: boolean;
  /** It was a {@link WorkspaceSyncError}. */
  wse: boolean;
}

/** Messages to the worker. */
export type ToDecodeWorker = { t: "in"; buf: ArrayBuffer; n: number } | { t: "ack"; n: number } | { t: "end" };

/** Messages from the worker. */
export type FromDecodeWorker =
  | { t: "took"; n: number }
  | { t: "free"; bufs: ArrayBuffer[] }
  | { t: "out"; bufs: ArrayBuffer[]; n: number }
  | { t: "kdf"; spec: KdfSpec }
  | { t: "marker"; marked: boolean }
  | { t: "done"; result: Omit<SnapshotDecodeResult, "tag"> & { tag: Uint8Array | undefined } }
  | { t: "error"; error: WireError };

/**
 * Stored bytes are copied into buffers of this size, sent when full (or at the next turn of the
 * event loop), and handed back by the worker once decrypted, to be filled again. The source's own
 * buffers are never moved to the worker: whoever else holds them would find them emptied.
 */
const IN_BATCH = 1024 * 1024;
/** Input buffers kept for reuse. */
const FREE_INPUT = 4;
/** Stored bytes sent and not yet taken by the worker, at most (writes wait beyond it). */
const IN_FLIGHT = 2 * 1024 * 1024;

function revive(e: WireError): Error {
  if (e.wse) return new WorkspaceSyncError(e.code as ErrorCode, e.message, { path: e.path, retryable: e.retryable });
  return Object.assign(new Error(e.message), e.code === undefined ? {} : { code: e.code });
}

/** Options of {@link createSnapshotDecoder}. */
export interface SnapshotDecoderOptions {
  /**
   * Refuse a stream that starts with the authentication mark: nothing after it is passed on, and
   * the stream fails with this function's error.
   */
  refuseMarked?: () => Error;
  /** Decode on a helper thread where its module is present (default true). */
  offThread?: boolean;
  /** The helper thread to decode on; without one, the decoder starts (and stops) its own. */
  thread?: RestoreThread | undefined;
  /** Hand the decoded pieces over to the reader, to free (see `OpenSnapshotOptions.handOver`). */
  handOver?: boolean;
}

/** The decode stages to put between the stored bytes and their reader. */
export interface SnapshotDecoder {
  /** In order: the stored bytes go into the first, the gzip stream comes out of the last. */
  stages: Duplex[];
  /** What the stages found; complete once the last stage has ended. */
  result(): SnapshotDecodeResult | undefined;
  /** The key derivation that decrypts the snapshot, once known. */
  kdf(): KdfSpec | undefined;
  /** Whether the worker thread decodes. */
  offThread: boolean;
}

/** Builds the decode stages of `spec`; see the module comment. */
export function createSnapshotDecoder(spec: SnapshotDecodeSpec, options: SnapshotDecoderOptions = {}): SnapshotDecoder {
  const own = options.offThread === false || options.thread ? undefined : RestoreThread.start();
  const thread = options.offThread === false ? undefined : options.thread ?? own;
  if (thread) {
    const data: DecodeWorkerData = { spec, refuseMarked: options.refuseMarked !== undefined };
    const d = new OffThreadDecode(thread.decode(data), options.refuseMarked, own ? () => void own.close() : undefined, () => thread.failure, options.handOver === true);
    return { stages: [d], result: () => d.result, kdf: () => d.kdf, offThread: true };
  }
  const local = createDecodeStages(spec);
  const { strip } = local;
  const refuse = options.refuseMarked;
  if (strip && refuse) {
    strip.on("marker", (marked: boolean) => {
      if (marked) strip.destroy(refuse());
    });
  }
  return { stages: local.stages, result: () => local.result(), kdf: () => local.decrypt?.kdf, offThread: false };
}

/** The stages on a worker thread, as one Duplex: stored bytes in, gzip stream out. */
export class OffThreadDecode extends Duplex {
  /** What the stages found, once the worker finished. */
  result: SnapshotDecodeResult | undefined;
  /** The key derivation, once the worker found it. */
  kdf: KdfSpec | undefined;
  readonly #port: MessagePort;
  readonly #onEnd: (() => void) | undefined;
  readonly #refuseMarked: (() => Error) | undefined;
  #cur: ArrayBuffer | undefined;
  #curLength = 0;
  readonly #free: ArrayBuffer[] = [];
  #sent = 0;
  #took = 0;
  #waiting: ((err?: Error | null) => void) | undefined;
  #final: ((err?: Error | null) => void) | undefined;
  #unread = 0;
  #over = false;
  #scheduled = false;

  /**
   * @param port a port to the decoding side (decode-serve.ts) on the helper thread
   * @param refuseMarked see {@link SnapshotDecoderOptions.refuseMarked}
   * @param onEnd called once when the decoding is over, however it ended
   * @param failure why the thread stopped, when the port closes before the end
   * @param handsOver hand each decoded piece (a buffer transferred from the thread, held by no one
   *   else) over to the reader to free (see `util/release-buffer.ts`)
   */
  constructor(
    port: MessagePort,
    refuseMarked?: () => Error,
    onEnd?: () => void,
    failure?: () => Error | undefined,
    private readonly handsOver = false,
  ) {
    super({ readableHighWaterMark: 256 * 1024, writableHighWaterMark: IN_BATCH });
    this.#port = port;
    this.#refuseMarked = refuseMarked;
    this.#onEnd = onEnd;
    port.on("message", (msg: FromDecodeWorker) => this.#onMessage(msg));
    port.on("close", () => {
      if (!this.#over) this.destroy(failure?.() ?? threadStopped());
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    for (let off = 0; off < chunk.length; ) {
      const cur = (this.#cur ??= this.#free.pop() ?? new ArrayBuffer(IN_BATCH));
      const n = Math.min(chunk.length - off, IN_BATCH - this.#curLength);
      new Uint8Array(cur, this.#curLength, n).set(chunk.subarray(off, off + n));
      this.#curLength += n;
      off += n;
      if (this.#curLength === IN_BATCH) this.#send();
    }
    // Copied: freed now if the provider handed it over (the snapshot reader asks for that only
    // where this stage is the stored bytes' one reader; see `ReadOptions.handOver`).
    release(chunk);
    if (this.#curLength > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#send();
      });
    }
    if (this.#sent - this.#took >= IN_FLIGHT) this.#waiting = callback;
    else callback();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#send();
    this.#final = callback;
    this.#post({ t: "end" });
  }

  override _read(): void {
    if (this.#unread > 0) {
      this.#post({ t: "ack", n: this.#unread });
      this.#unread = 0;
    }
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#end();
    callback(err);
  }

  /** The decoding is over: the port is closed (the other side stops with it). */
  #end(): void {
    if (this.#over) return;
    this.#over = true;
    this.#port.close();
    this.#onEnd?.();
  }

  #post(msg: ToDecodeWorker, transfer: ArrayBuffer[] = []): void {
    if (!this.#over) this.#port.postMessage(msg, transfer);
  }

  #send(): void {
    const buf = this.#cur;
    const n = this.#curLength;
    if (buf === undefined || n === 0 || this.#over) return;
    this.#cur = undefined;
    this.#curLength = 0;
    this.#sent += n;
    this.#post({ t: "in", buf, n }, [buf]);
  }

  #onMessage(msg: FromDecodeWorker): void {
    if (this.destroyed) return;
    switch (msg.t) {
      case "took": {
        this.#took += msg.n;
        const waiting = this.#waiting;
        if (waiting && this.#sent - this.#took < IN_FLIGHT) {
          this.#waiting = undefined;
          waiting();
        }
        return;
      }
      case "out": {
        let room = true;
        for (const buf of msg.bufs) {
          const piece = Buffer.from(buf);
          if (this.handsOver) handOver(piece);
          room = this.push(piece);
        }
        if (room) this.#post({ t: "ack", n: msg.n });
        else this.#unread += msg.n;
        return;
      }
      case "free":
        for (const b of msg.bufs) if (b.byteLength === IN_BATCH && this.#free.length < FREE_INPUT) this.#free.push(b);
        return;
      case "kdf":
        this.kdf = msg.spec;
        this.emit("kdf", msg.spec);
        return;
      case "marker":
        if (msg.marked && this.#refuseMarked) this.destroy(this.#refuseMarked());
        return;
      case "done": {
        const { tag, ...rest } = msg.result;
        this.result = { ...rest, tag: tag ? Buffer.from(tag) : undefined };
        this.#end();
        this.push(null);
        this.#final?.();
        return;
      }
      case "error":
        this.destroy(revive(msg.error));
        return;
    }
  }
}
