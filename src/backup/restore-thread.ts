/**
 * One helper thread for a restore or verify: it decrypts and checks the stored bytes
 * (decode-serve.ts) and creates the small files (archive/small-file-serve.ts), each over a port
 * of its own, while the main thread parses the archive and checks every entry. The caller starts
 * it, hands it to the reader and the extractor, and closes it when both are done.
 */
import { MessageChannel, type MessagePort, type Worker } from "node:worker_threads";
import type { SmallFileHost, SmallFileShared } from "../archive/small-file-writer.js";
import { WorkspaceSyncError, errorMessage } from "../errors.js";
import { startWorker, workerModuleAvailable } from "../util/worker-module.js";
import type { DecodeWorkerData } from "./decode-thread.js";
import type { RestoreThreadJob, RestoreWorkerData } from "./restore-worker.js";
import { smallHeapPolicyApplied } from "../util/heap-policy.js";

const WORKER_URL = new URL("./restore-worker.js", import.meta.url);

/** See the module comment. */
export class RestoreThread implements SmallFileHost {
  readonly #worker: Worker;
  #closed = false;
  /** Ports handed out and still open: closed when the thread stops, so that no user waits on one. */
  readonly #ports = new Set<MessagePort>();
  #error: unknown;
  /** Why the thread stopped on its own (set once it has). */
  #stopped: WorkspaceSyncError | undefined;

  private constructor() {
    // Small heaps: the thread holds a few megabytes of buffers, outside its heap.
    // The process's heap policy, applied again on the thread (see util/heap-policy.ts).
    const workerData: RestoreWorkerData = { smallHeap: smallHeapPolicyApplied() };
    this.#worker = startWorker(WORKER_URL, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 } });
    // A failure shows on the ports (closed below): whoever uses one reports it, with this cause.
    this.#worker.on("error", (err) => (this.#error ??= err));
    this.#worker.on("exit", (code) => {
      if (!this.#closed) this.#stopped = threadStopped(this.#error ?? `exit code ${code}`);
      // A port posted to a thread that has gone never closes by itself.
      for (const port of this.#ports) port.close();
      this.#ports.clear();
    });
    // Never what keeps a process alive: the ports in use do that.
    this.#worker.unref();
  }

  /**
   * Starts the thread; `undefined` where its compiled module is missing (a host running the
   * TypeScript sources through its own loader): the work is then done on the caller's thread.
   */
  static start(): RestoreThread | undefined {
    return workerModuleAvailable(WORKER_URL) ? new RestoreThread() : undefined;
  }

  /** A port to a decoder of one snapshot on the thread. */
  decode(data: DecodeWorkerData): MessagePort {
    return this.#connect((port) => ({ t: "decode", port, data }));
  }

  /** A port to a small-file server on the thread (see `SmallFileWriter`). */
  connect(shared: SmallFileShared): MessagePort {
    return this.#connect((port) => ({ t: "files", port, shared }));
  }

  /** Why the thread stopped before it was closed, or `undefined`. */
  get failure(): WorkspaceSyncError | undefined {
    return this.#stopped;
  }

  /** Stops the thread: once this settles, it writes nothing more. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }

  #connect(job: (port: MessagePort) => RestoreThreadJob): MessagePort {
    if (this.#stopped) throw this.#stopped;
    if (this.#closed) throw new Error("restore thread used after close");
    const { port1, port2 } = new MessageChannel();
    this.#ports.add(port1);
    port1.once("close", () => this.#ports.delete(port1));
    this.#worker.postMessage(job(port2), [port2]);
    return port1;
  }
}

/** The error of work cut short because its helper thread stopped (`cause`: why, when known). */
export function threadStopped(cause?: unknown): WorkspaceSyncError {
  const why = cause === undefined ? "" : ` (${typeof cause === "string" ? cause : errorMessage(cause)})`;
  return new WorkspaceSyncError(
    "INTERNAL_ERROR",
    `The restore's helper thread stopped${why}: nothing was left in the target folder; retry, and report it if it happens again`,
    { cause, retryable: true },
  );
}
