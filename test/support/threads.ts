/** Counting the worker threads a piece of code starts (through the process's `worker` event). */
import type { Worker } from "node:worker_threads";

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
