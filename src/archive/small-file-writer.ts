/**
 * Writes the small files of an extraction on a worker thread (small-file-worker.ts), in batches,
 * so that the main thread only parses and checks entries. Creating a file costs far more than its
 * bytes (a restore is mostly small files: opening one with `O_CREAT | O_EXCL` took 125 µs of the
 * main thread on the bench machine, more than inflating it), and the thread pool is busy
 * inflating gzip members, so the files go to a thread of their own.
 *
 * Order: files are created in the order they were queued, one after the other. The extractor calls
 * {@link SmallFileWriter.barrier} before anything that depends on a queued file being on disk
 * (replacing it, hard-linking to it, setting folder modes and times at the end).
 *
 * When the thread has {@link MAX_QUEUED_BYTES} queued (file creation is slow on this disk, e.g.
 * 170 µs per file on the bench machine's ext4), the main thread creates the next files itself
 * rather than wait: both write, in whatever order, new files at distinct names that the extractor
 * checked, so the order between them does not matter; the barrier covers both. The thread's
 * progress is read from shared memory, not from its replies: a busy main thread handles messages
 * late, and would otherwise keep writing itself while the thread sat idle.
 *
 * Without a thread to write on (a restore's), the writer starts one of its own only once it wrote
 * {@link INLINE_FILES} files (or {@link INLINE_BYTES}) here: a small extraction never starts one.
 *
 * Memory: at most {@link MAX_QUEUED_BYTES} plus one batch of file data is queued or being written,
 * and at most {@link MAX_BATCHES} batch buffers exist.
 */
import { MessageChannel, type MessagePort, type Worker } from "node:worker_threads";
import { WorkspaceSyncError } from "../errors.js";
import { startWorker, workerModuleAvailable } from "../util/worker-module.js";
import { writeNewFileSync } from "./write-new-file.js";

/** A batch of files sent to the worker; `data` holds their bytes one after the other. */
export interface SmallFileBatch {
  id: number;
  /** File bytes in the batch (added to the shared done counter once the batch is finished with). */
  bytes: number;
  data: ArrayBuffer;
  files: { path: string; offset: number; length: number; mode: number; mtimeMs: number | undefined }[];
}

/** Messages to the serving side: batches, then a request to stop (answered `{ closed: true }`). */
export type ToSmallFiles = SmallFileBatch | { close: true };

/** Memory shared with the serving side. */
export interface SmallFileShared {
  /** One BigInt64: file bytes the serving side has finished with (written, failed or skipped). */
  doneBytes: SharedArrayBuffer;
  /** One Int32: raised by the writer when it closes; the serving side then writes nothing more. */
  stop: SharedArrayBuffer;
}

/**
 * A thread that serves small-file batches besides its own work (a restore's helper thread): gives
 * a port to a {@link serveSmallFiles} there. Without one, the writer starts a worker of its own
 * once it has written {@link INLINE_FILES} files (or {@link INLINE_BYTES}) itself; with `false`
 * instead of a host, it starts none.
 */
export interface SmallFileHost {
  connect(shared: SmallFileShared): MessagePort;
}

/** The serving side's answer to one batch. */
export interface SmallFileReply {
  id: number;
  /** Refused unwritten: an earlier batch failed. */
  skipped: boolean;
  /** The batch's `data`, handed back for the next batch. */
  data: ArrayBuffer;
  /** Indexes (in the batch) of files written without their mtime: the filesystem refused it. */
  badTimes: number[];
  /** The system error that stopped the batch, with the index of its file. */
  error?: { message: string; code?: string; errno?: number; syscall?: string; path: string; index: number };
}

/** The error of files left unwritten because the thread writing them stopped. */
function fileThreadStopped(why?: string): WorkspaceSyncError {
  return new WorkspaceSyncError(
    "INTERNAL_ERROR",
    `the file-writing thread stopped${why ? ` (${why})` : ""}: the extraction is incomplete; retry, and report it if it happens again`,
    { retryable: true },
  );
}

/** A batch is sent once it holds this many bytes or {@link BATCH_FILES} files. */
const BATCH_BYTES = 256 * 1024;
const BATCH_FILES = 128;
/** File data queued or in the worker at most. */
export const MAX_QUEUED_BYTES = 1024 * 1024;
/**
 * Size of a batch buffer: a full batch plus one more file of the largest size the extractor sends
 * here. Buffers go to the worker and back (transferred, not copied) and are reused, so a restore
 * allocates a handful of them rather than one per batch (which the worker's garbage collector
 * freed late: 80 MiB more peak RSS on the bench restore).
 */
const BATCH_CAPACITY = BATCH_BYTES + 256 * 1024;
/**
 * Without a host thread, files written here before the writer starts a thread of its own: starting
 * one cost ~50–90 ms on the bench machine, about what creating 300–500 small files costs there,
 * and far more than copying a few megabytes.
 */
const INLINE_FILES = 256;
/** The same limit in file bytes (see {@link INLINE_FILES}). */
const INLINE_BYTES = 4 * 1024 * 1024;
/** Batch buffers kept for reuse. */
const FREE_BUFFERS = 4;
/** Batches sent and not yet answered, at most (the main thread writes files itself meanwhile). */
const MAX_BATCHES = 8;

/** The worker's module; where it is missing (see workerModuleAvailable), every file is written here. */
const WORKER_URL = new URL("./small-file-worker.js", import.meta.url);
interface Pending {
  bytes: number;
  names: string[];
}

/** See the module comment. Create one per extraction; always {@link close} it. */
export class SmallFileWriter {
  #worker: Worker | undefined;
  #nextId = 0;
  #files: SmallFileBatch["files"] = [];
  /** The batch being filled: file data is copied in as it comes, so no caller's Buffer is held. */
  #data: ArrayBuffer | undefined;
  #names: string[] = [];
  #bytes = 0;
  readonly #pending = new Map<number, Pending>();
  /** File bytes sent to the thread. */
  #sentBytes = 0;
  /** File bytes the thread has finished with (written, failed or skipped), stored by the thread. */
  readonly #doneBytes = new BigInt64Array(new SharedArrayBuffer(8));
  /** Raised on close: the thread writes nothing more. */
  readonly #stop = new Int32Array(new SharedArrayBuffer(4));
  #port: MessagePort | undefined;
  /** The thread's end of the port is gone (the thread stopped, or answered the close). */
  #portGone = false;
  #closedByThread: (() => void) | undefined;
  #failure: Error | undefined;
  readonly #free: ArrayBuffer[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  /** Files written here before a thread of the writer's own was started. */
  #inlineFiles = 0;
  /** Their bytes. */
  #inlineBytes = 0;

  /**
   * @param onBadTime called with the entry name of a file written without its mtime.
   * @param host a thread to write on; without one, a worker of the writer's own is started;
   *   `false`: every file is written on the calling thread.
   */
  constructor(
    private readonly onBadTime: (name: string) => void,
    private readonly host?: SmallFileHost | false,
  ) {}

  /**
   * Creates a new file at `full` (a path the extractor checked) with `data` (its chunks), `mode`
   * and `mtime`, on the thread (queued) or, when the thread has enough queued, here and now;
   * `name` is the entry's name for messages. Throws the failure of an earlier file, and of this
   * one when written here.
   */
  write(full: string, name: string, data: Buffer[], length: number, mode: number, mtime: Date | undefined): void {
    this.check();
    if (
      this.#sentBytes - Number(Atomics.load(this.#doneBytes, 0)) >= MAX_QUEUED_BYTES ||
      this.#pending.size >= MAX_BATCHES ||
      this.host === false ||
      (this.host === undefined && (this.#beforeOwnThread(length) || !workerModuleAvailable(WORKER_URL)))
    ) {
      const bytes = data.length === 1 ? (data[0] as Buffer) : Buffer.concat(data, length);
      if (!writeNewFileSync(full, bytes, 0, length, mode, mtime?.getTime())) this.onBadTime(name);
      return;
    }
    if (this.#data !== undefined && this.#bytes + length > this.#data.byteLength) this.#flush();
    const batch = (this.#data ??= length <= BATCH_CAPACITY ? this.#free.pop() ?? new ArrayBuffer(BATCH_CAPACITY) : new ArrayBuffer(length));
    let off = this.#bytes;
    for (const c of data) {
      new Uint8Array(batch, off, c.length).set(c);
      off += c.length;
    }
    this.#files.push({ path: full, offset: this.#bytes, length, mode, mtimeMs: mtime?.getTime() });
    this.#names.push(name);
    this.#bytes += length;
    if (this.#bytes >= BATCH_BYTES || this.#files.length >= BATCH_FILES) this.#flush();
  }

  /**
   * Whether this file is still written here rather than on a thread of the writer's own: the
   * first {@link INLINE_FILES} files (or {@link INLINE_BYTES}) are, so that a small archive never
   * pays for starting a thread.
   */
  #beforeOwnThread(length: number): boolean {
    if (this.#worker !== undefined || this.#inlineFiles >= INLINE_FILES || this.#inlineBytes >= INLINE_BYTES) return false;
    this.#inlineFiles++;
    this.#inlineBytes += length;
    return true;
  }

  /** Waits until every queued file is written; throws the first failure. */
  async barrier(): Promise<void> {
    this.#flush();
    while (this.#pending.size > 0 && this.#failure === undefined) await this.#waitReply();
    this.check();
  }

  /** Throws the failure of a file written earlier, if one failed. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Stops the worker. Once this settles nothing more is written, whatever was queued (after a
   * failure, the caller may remove what was extracted).
   */
  async close(): Promise<void> {
    this.#closed = true;
    Atomics.store(this.#stop, 0, 1);
    const port = this.#port;
    const worker = this.#worker;
    this.#port = undefined;
    this.#worker = undefined;
    if (port && !this.#portGone) {
      // The thread answers after the batch it is writing (the stop flag cuts that one short).
      const answered = new Promise<void>((resolve) => (this.#closedByThread = resolve));
      port.postMessage({ close: true } satisfies ToSmallFiles);
      await answered;
    }
    port?.close();
    if (worker) await worker.terminate();
    this.#wake?.();
  }

  #flush(): void {
    if (this.#files.length === 0) return;
    const data = this.#data as ArrayBuffer;
    const batch: SmallFileBatch = { id: this.#nextId++, bytes: this.#bytes, data, files: this.#files };
    this.#pending.set(batch.id, { bytes: this.#bytes, names: this.#names });
    this.#sentBytes += this.#bytes;
    this.#files = [];
    this.#data = undefined;
    this.#names = [];
    this.#bytes = 0;
    this.#start().postMessage(batch, [data]);
  }

  #start(): MessagePort {
    if (this.#closed) throw new Error("small-file writer used after close");
    if (this.#port) return this.#port;
    const shared: SmallFileShared = { doneBytes: this.#doneBytes.buffer as SharedArrayBuffer, stop: this.#stop.buffer as SharedArrayBuffer };
    let port: MessagePort;
    if (this.host) port = this.host.connect(shared);
    else {
      const channel = new MessageChannel();
      // Small heap limits: the worker holds a batch at a time and allocates next to nothing.
      const worker = startWorker(WORKER_URL, {
        workerData: { ...shared, port: channel.port2 },
        transferList: [channel.port2],
        resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
      });
      worker.on("error", (err) => this.#fail(err));
      worker.on("exit", (code) => {
        if (!this.#closed) this.#fail(fileThreadStopped(`exit code ${code}`));
      });
      this.#worker = worker;
      port = channel.port1;
    }
    port.on("message", (reply: SmallFileReply | { closed: true }) => {
      if ("closed" in reply) this.#closedByThread?.();
      else this.#onReply(reply);
    });
    port.on("close", () => {
      this.#portGone = true;
      this.#closedByThread?.();
      if (!this.#closed) this.#fail(fileThreadStopped());
    });
    this.#port = port;
    return port;
  }

  #onReply(reply: SmallFileReply): void {
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    if (reply.data.byteLength === BATCH_CAPACITY && this.#free.length < FREE_BUFFERS) this.#free.push(reply.data);
    for (const i of reply.badTimes) this.onBadTime(p.names[i] as string);
    if (reply.error) {
      const { message, index: _index, ...fields } = reply.error;
      this.#fail(Object.assign(new Error(message), fields));
    }
    this.#wake?.();
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#wake?.();
  }

  #waitReply(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("small-file writer closed"));
    return new Promise<void>((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
