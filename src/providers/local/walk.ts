/**
 * The local provider's listing: a depth-first walk of a folder, names in sorted order, each
 * folder's files before its sub-folders (whose files follow in the same order).
 *
 * It is an iterator over batches of entries rather than an async generator: a generator's `yield`
 * (and every level of `yield*` it is delegated through) allocates and awaits per entry, which was a
 * tenth of what a no-change sync of 40 000 files allocated. Here an entry costs one settled promise
 * and one result object.
 *
 * Once a walk has listed {@link WalkOptions.threadAfter} files on the calling thread, the folders
 * left go to a worker thread (`walk-worker.ts`), which reads them in the same order and sends the
 * files back in batches: a sync lists the workspace on its own thread meanwhile, so the two walks'
 * system calls can run on two cores. It is off by default: on the 2-core bench machine a
 * no-change sync of 40 000 files took the same time with it (best of 6: 1.37 s against 1.32 s),
 * since the calling thread still builds and checks every entry, and it cost ~18 MiB more (96
 * against 78 MiB; an isolate alone is ~9 MiB). Where the worker's module is missing (a host
 * running the TypeScript sources through a loader of its own) the whole walk stays on the calling
 * thread.
 */
import { promises as fsp } from "node:fs";
import { Worker } from "node:worker_threads";
import { throwIfAborted, toWorkspaceSyncError } from "../../errors.js";
import type { RemoteEntry } from "../types.js";
import { workerModuleAvailable } from "../../util/worker-module.js";
import {
  WALK_CREDITS,
  WALK_YIELD_EVERY,
  finished,
  pushSubfolders,
  readPiece,
  startReading,
  type Folder,
  type FromWalkWorker,
  type Reading,
  type WalkBatch,
  type WalkSpec,
  type WalkWorkerData,
} from "./walk-core.js";

export { WALK_YIELD_EVERY };

const WORKER_URL = new URL("./walk-worker.js", import.meta.url);

/** Files a walk lists on the calling thread before the rest moves to a worker thread, by default: never (see above). */
export const WALK_THREAD_AFTER = Number.POSITIVE_INFINITY;

/** What a walk needs from its provider. */
export interface WalkOptions extends WalkSpec {
  signal?: AbortSignal;
  /** The entry of a listed file. */
  entryOf: (rel: string, size: number, mtimeNs: bigint, ino: bigint) => RemoteEntry;
  /** Files listed on the calling thread before the folders left go to a worker thread (`Infinity`: never). */
  threadAfter: number;
}

/**
 * Lists `rootAbs` (absolute and normalized). A missing root lists as empty and a file that vanishes
 * meanwhile is skipped; any other error (a sub-folder that vanished included) is thrown as a
 * {@link WorkspaceSyncError}. Like any async iterator it is read one `next()` at a time.
 */
export function walkFolder(rootAbs: string, options: WalkOptions): AsyncIterableIterator<RemoteEntry> {
  const { signal, entryOf } = options;
  const spec: WalkSpec = { recursive: options.recursive, token: options.token };
  const stack: Folder[] = [{ abs: rootAbs, rel: "" }];
  let reading: Reading | undefined;
  let thread: WalkThread | undefined;
  let batch: RemoteEntry[] = [];
  let at = 0;
  let listed = 0;
  let done = false;

  /** Fills `batch` with the next entries; false at the end. */
  const fill = async (): Promise<boolean> => {
    batch = [];
    at = 0;
    while (batch.length === 0) {
      throwIfAborted(signal);
      if (thread !== undefined) {
        const b = await thread.next(signal);
        if (b === undefined) return false;
        for (let i = 0; i < b.rels.length; i++) batch.push(entryOf(b.rels[i]!, b.sizes[i]!, b.mtimesNs[i]!, b.inos[i]!));
        continue;
      }
      if (reading === undefined) {
        if (stack.length === 0) return false;
        if (listed >= options.threadAfter && workerModuleAvailable(WORKER_URL)) {
          thread = new WalkThread(spec, stack.splice(0));
          continue;
        }
        const folder = stack.pop()!;
        let names: string[];
        try {
          names = await fsp.readdir(folder.abs);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT" && folder.rel === "") return false; // a missing folder lists as empty
          throw toWorkspaceSyncError(err);
        }
        reading = startReading(folder, names);
      } else {
        // The event loop gets a turn between pieces of one folder.
        await new Promise<void>((resolve) => setImmediate(resolve));
        throwIfAborted(signal);
      }
      try {
        readPiece(reading, spec, (rel, st) => batch.push(entryOf(rel, Number(st.size), st.mtimeNs, st.ino)));
      } catch (err) {
        throw toWorkspaceSyncError(err);
      }
      listed += batch.length;
      if (finished(reading)) {
        pushSubfolders(reading, stack);
        reading = undefined;
      }
    }
    return true;
  };

  const stop = (): void => {
    done = true;
    batch = [];
    thread?.close();
  };
  const end: IteratorResult<RemoteEntry> = { value: undefined, done: true };
  const iterator: AsyncIterableIterator<RemoteEntry> = {
    next: async (): Promise<IteratorResult<RemoteEntry>> => {
      if (done) return end;
      if (signal?.aborted) {
        stop();
        throwIfAborted(signal);
      }
      if (at >= batch.length) {
        let more: boolean;
        try {
          more = await fill();
        } catch (err) {
          stop();
          throw err;
        }
        if (!more) {
          stop();
          return end;
        }
      }
      return { value: batch[at++]!, done: false };
    },
    return: async (): Promise<IteratorResult<RemoteEntry>> => {
      stop();
      return end;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

let threadsStarted = 0;

/** Worker threads started by walks in this process so far (for diagnostics and tests). */
export function walkThreadsStarted(): number {
  return threadsStarted;
}

/** The walk's worker thread, seen from the calling thread: batches in order, then the end or an error. */
class WalkThread {
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #inbox: FromWalkWorker[] = [];
  #wake: (() => void) | undefined;
  #failure: unknown;
  #closed = false;

  constructor(spec: WalkSpec, folders: Folder[]) {
    const control = new SharedArrayBuffer(8);
    this.#control = new Int32Array(control);
    this.#control[0] = WALK_CREDITS;
    const workerData: WalkWorkerData = { spec, folders, control };
    // A small young generation: the thread's garbage is the stat results of one batch at a time.
    threadsStarted++;
    this.#worker = new Worker(WORKER_URL, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 256 } });
    this.#worker.on("message", (m: FromWalkWorker) => {
      this.#inbox.push(m);
      this.#wake?.();
    });
    this.#worker.on("error", (err) => {
      this.#failure ??= err;
      this.#wake?.();
    });
    this.#worker.on("exit", (code) => {
      this.#failure ??= new Error(`the listing's worker thread stopped early (exit code ${code})`);
      this.#wake?.();
    });
    // Only a reader waiting for a batch keeps the process alive (see `next`).
    this.#worker.unref();
  }

  /** The next batch; `undefined` at the end of the walk. */
  async next(signal: AbortSignal | undefined): Promise<WalkBatch | undefined> {
    for (;;) {
      throwIfAborted(signal);
      const m = this.#inbox.shift();
      if (m !== undefined) {
        if (m.t === "end") return undefined;
        if (m.t === "error") throw toWorkspaceSyncError(Object.assign(new Error(m.message), { code: m.code, syscall: m.syscall, path: m.path }));
        // Read: the worker may send one more.
        Atomics.add(this.#control, 0, 1);
        Atomics.notify(this.#control, 0);
        return m;
      }
      if (this.#failure !== undefined) throw toWorkspaceSyncError(this.#failure);
      this.#worker.ref();
      try {
        await new Promise<void>((resolve) => {
          const onAbort = (): void => resolve();
          signal?.addEventListener("abort", onAbort, { once: true });
          this.#wake = () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          };
        });
      } finally {
        this.#wake = undefined;
        this.#worker.unref();
      }
      throwIfAborted(signal);
    }
  }

  /** Stops the thread (at once; it reads nothing more). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(this.#control, 1, 1);
    Atomics.notify(this.#control, 0);
    void this.#worker.terminate();
  }
}
