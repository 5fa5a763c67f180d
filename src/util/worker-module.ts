/**
 * Locating a worker thread's compiled module next to the module that starts it. The modules are in
 * the package; a host that runs the TypeScript sources through a loader of its own (or a bundler
 * that drops the file) does not have them, and the caller then does the work on its own thread,
 * as it did before the worker existed.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const found = new Map<string, boolean>();

/**
 * The Node options our worker threads start with: none. By default a worker inherits the
 * process's (`process.execArgv`), and a host started with options a worker refuses
 * (`node --input-type=module -e …`) saw every thread die at start, failing each restore; a
 * host's preloads (`--import`, `--require`: instrumentation, TypeScript loaders) would be loaded
 * again on every thread. Our workers are compiled modules that need none of them.
 */
export const WORKER_EXEC_ARGV: string[] = [];

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
