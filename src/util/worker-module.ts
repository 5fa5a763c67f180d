/**
 * Starting our worker threads, and locating a worker's compiled module next to the module that starts it. The modules are in
 * the package; a host that runs the TypeScript sources through a loader of its own (or a bundler
 * that drops the file) does not have them, and the caller then does the work on its own thread,
 * as it did before the worker existed.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";
import { reapplySmallHeapPolicy } from "./heap-policy.js";

const found = new Map<string, boolean>();

/**
 * Starts one of our worker threads from its compiled module `url`, without the process's Node
 * options. By default a worker inherits them (`process.execArgv`), and a host started with
 * options a worker refuses (`node --input-type=module -e …`) saw every thread die at start,
 * failing each restore; a host's preloads (`--import`, `--require`: instrumentation, TypeScript
 * loaders) would be loaded again on every thread. Our workers need none of them.
 */
export function startWorker(url: URL, options: Omit<WorkerOptions, "execArgv">): Worker {
  const worker = new Worker(url, { ...options, execArgv: [] });
  // Its isolate's set-up undid the small-heap policy's growth factor (see reapplySmallHeapPolicy).
  worker.once("online", reapplySmallHeapPolicy);
  return worker;
}

/** Whether `url` (a worker module, `new URL("./x.js", import.meta.url)`) is a file that exists. */
export function workerModuleAvailable(url: URL): boolean {
  let ok = found.get(url.href);
  if (ok === undefined) {
    try {
      ok = url.protocol === "file:" && existsSync(fileURLToPath(url));
    } catch {
      ok = false;
    }
    found.set(url.href, ok);
  }
  return ok;
}
