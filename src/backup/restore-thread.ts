/**
 * One helper thread for a restore or verify: it decrypts and checks the stored bytes
 * (decode-serve.ts) and creates the small files (archive/small-file-serve.ts), each over a port
 * of its own, while the main thread parses the archive and checks every entry. The caller starts
 * it, hands it to the reader and the extractor, and closes it when both are done.
 */
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import type { SmallFileHost, SmallFileShared } from "../archive/small-file-writer.js";
import { workerModuleAvailable } from "../util/worker-module.js";
import type { DecodeWorkerData } from "./decode-thread.js";
import type { RestoreThreadJob } from "./restore-worker.js";

const WORKER_URL = new URL("./restore-worker.js", import.meta.url);

/** See the module comment. */
export class RestoreThread implements SmallFileHost {
  readonly #worker: Worker;
  #closed = false;

  private constructor() {
    // Small heaps: the thread holds a few megabytes of buffers, outside its heap.
    this.#worker = new Worker(WORKER_URL, { resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 } });
    // A failure shows on the ports (closed): whoever uses one reports it.
    this.#worker.on("error", () => {});
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

  /** Stops the thread: once this settles, it writes nothing more. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }

  #connect(job: (port: MessagePort) => RestoreThreadJob): MessagePort {
    if (this.#closed) throw new Error("restore thread used after close");
    const { port1, port2 } = new MessageChannel();
    this.#worker.postMessage(job(port2), [port2]);
    return port1;
  }
}
