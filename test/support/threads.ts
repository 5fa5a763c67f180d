/** Counting the worker threads a piece of code starts (through the process's `worker` event). */
import type { Worker } from "node:worker_threads";
import { availableCores } from "../../src/util/cores.js";

/** A test's `skip` where the process may use one core only: a walk then never starts its thread (`util/cores.ts`). */
export const ONE_CORE: string | false = availableCores() < 2 ? "this process may use one core: a walk never starts its thread there" : false;

/**
 * Runs `fn` and counts the worker threads the process started meanwhile; `exits` resolves, one
 * promise a thread, when each has ended.
 */
export async function countThreads<T>(fn: () => Promise<T>): Promise<{ value: T; threads: number; exits: Promise<void>[] }> {
  const exits: Promise<void>[] = [];
  const onWorker = (w: Worker): void => void exits.push(new Promise((resolve) => w.once("exit", () => resolve())));
  process.on("worker", onWorker);
  try {
    const value = await fn();
    return { value, threads: exits.length, exits };
  } finally {
    process.off("worker", onWorker);
  }
}
