/** Counting the worker threads a piece of code starts (through the process's `worker` event). */

/** Runs `fn` and counts the worker threads the process started meanwhile. */
export async function countThreads<T>(fn: () => Promise<T>): Promise<{ value: T; threads: number }> {
  let threads = 0;
  const onWorker = (): void => void threads++;
  process.on("worker", onWorker);
  try {
    const value = await fn();
    return { value, threads };
  } finally {
    process.off("worker", onWorker);
  }
}
