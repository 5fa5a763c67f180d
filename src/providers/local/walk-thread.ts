/**
 * The main thread's end of a walk handed off to a thread of its own (`walk-worker.ts`): batches
 * come in order, each taken one at a time; an error on the thread comes out of {@link
 * WalkThread.next} as the typed error a walk on the main thread throws.
 */
import type { Worker } from "node:worker_threads";
import { WorkspaceSyncError, errorMessage, throwIfAborted, toWorkspaceSyncError } from "../../errors.js";
import { smallHeapPolicyApplied } from "../../util/heap-policy.js";
import { startWorker, workerModuleAvailable } from "../../util/worker-module.js";
import type { Folder, WalkBatch, WalkMessage, WalkWorkerData } from "./walk-look.js";

const WORKER_URL = new URL("./walk-worker.js", import.meta.url);

/** Batches the thread posts ahead of the main thread before it waits (32 × 512 files). */
export const WALK_THREAD_AHEAD = 32;

/** How a walk thread walks (see {@link WalkThread.start}). */
export interface WalkThreadOptions {
  recursive: boolean;
  /** The install's temp-name token (its own temp files are not listed). */
  token: string;
  signal?: AbortSignal;
  /** Batches posted ahead before the thread waits (default {@link WALK_THREAD_AHEAD}). */
  ahead?: number;
  /** The thread's module (default `walk-worker.js`; tests give one that fails). */
  module?: URL;
  /** Post names that are neither a file nor a folder too (see {@link WalkWorkerData.others}). */
  others?: boolean;
}

/**
 * The thread failed before it posted anything (it could not start, or its module failed to load):
 * the caller walks `folders` itself, as where the module is missing.
 */
export class WalkThreadUnavailable extends Error {
  constructor(
    /** The folders handed to the thread, as given. */
    readonly folders: Folder[],
    cause: unknown,
  ) {
    super(`the walk thread could not start: ${errorMessage(cause)}`, { cause });
  }
}

/** See the module comment. */
export class WalkThread {
  readonly #worker: Worker;
  readonly #control = new Int32Array(new SharedArrayBuffer(8));
  readonly #queue: WalkMessage[] = [];
  #wake: (() => void) | undefined;
  #failure: unknown;
  #ended = false;
  /** Whether anything came from the thread (until then a failure is {@link WalkThreadUnavailable}). */
  #heard = false;
  readonly #folders: Folder[];
  /** Whether the thread passed over any of the install's own temp files (known at the end). */
  sawOwnTemp = false;
  #stopped = false;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => {
    this.stop();
    this.#wakeUp();
  };

  private constructor(folders: Folder[], options: WalkThreadOptions, url: URL) {
    this.#folders = folders;
    const signal = options.signal;
    this.#signal = signal;
    const workerData: WalkWorkerData = {
      folders,
      recursive: options.recursive,
      token: options.token,
      control: this.#control.buffer as SharedArrayBuffer,
      limit: options.ahead ?? WALK_THREAD_AHEAD,
      smallHeap: smallHeapPolicyApplied(),
      others: options.others === true,
    };
    // A small young generation: the thread holds one folder's names and one batch at a time. No
    // cap on the old one: a folder's names are as many as the folder holds (a million names of
    // 24 characters passed 64 MiB, and the walk on the calling thread lists them).
    this.#worker = startWorker(url, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
    this.#worker.on("message", (m: WalkMessage) => {
      this.#heard = true;
      this.#queue.push(m);
      this.#wakeUp();
    });
    this.#worker.on("error", (err) => {
      this.#failure ??= err;
      this.#wakeUp();
    });
    this.#worker.on("exit", (code) => {
      // Messages posted before the thread ended arrive before this event.
      if (!this.#ended && !this.#stopped) this.#failure ??= walkThreadStopped(`exit code ${code}`);
      this.#wakeUp();
    });
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    // It keeps the process alive only while a reader waits for it (see `next`): a listing its
    // reader dropped half-read never holds the process open.
    this.#worker.unref();
  }

  /**
   * Walks `folders` (a walk's stack, the next one last) on a thread; `undefined` where the
   * thread's compiled module is missing (a host running the TypeScript sources through its own
   * loader): the caller then goes on walking on its own thread.
   */
  static start(folders: Folder[], options: WalkThreadOptions): WalkThread | undefined {
    const url = options.module ?? WORKER_URL;
    return workerModuleAvailable(url) ? new WalkThread(folders, options, url) : undefined;
  }

  /** The next batch of files; `undefined` at the end. Throws what stopped the walk. */
  async next(): Promise<WalkBatch | undefined> {
    for (;;) {
      throwIfAborted(this.#signal);
      const m = this.#queue.shift();
      if (m !== undefined) {
        if (m.t === "batch") {
          Atomics.sub(this.#control, 0, 1);
          Atomics.notify(this.#control, 0);
          return m;
        }
        this.#ended = true;
        this.#signal?.removeEventListener("abort", this.#onAbort);
        if (m.t === "end") {
          this.sawOwnTemp = m.sawOwnTemp;
          return undefined;
        }
        // (A refusal the thread made itself comes as the walk on this thread throws it.)
        if (m.code === "INVALID_PATH") throw new WorkspaceSyncError("INVALID_PATH", m.message, { path: m.path, retryable: true });
        throw toWorkspaceSyncError(Object.assign(new Error(m.message), { code: m.code, path: m.path, syscall: m.syscall, errno: m.errno }));
      }
      if (this.#failure !== undefined) {
        this.stop();
        if (!this.#heard) throw new WalkThreadUnavailable(this.#folders, this.#failure);
        throw this.#failure instanceof WorkspaceSyncError ? this.#failure : walkThreadStopped(this.#failure);
      }
      // Stopped by its walk (an early end or an abort, which the walk reports itself).
      if (this.#stopped) return undefined;
      this.#worker.ref();
      try {
        await new Promise<void>((resolve) => (this.#wake = resolve));
      } finally {
        this.#worker.unref();
      }
    }
  }

  /** Stops the thread (at the end, on an early return, an abort or an error). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    Atomics.store(this.#control, 1, 1);
    Atomics.notify(this.#control, 0);
    void this.#worker.terminate();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

function walkThreadStopped(cause: unknown): WorkspaceSyncError {
  const why = typeof cause === "string" ? cause : errorMessage(cause);
  return new WorkspaceSyncError("INTERNAL_ERROR", `The local folder's listing thread stopped (${why}): retry, and report it if it happens again`, { cause, retryable: true });
}
