/** Bounded concurrency for transfers and stats. */
import { childSignal } from "../util/abort.js";

/**
 * Runs `fn` over `items` with at most `limit` in flight; rejects with the first error after all
 * started ones settle. Each worker gets its own child of `signal` (passed as `fn`'s third argument):
 * the shared signal carries one listener per worker, never one per stream or request.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal | undefined) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let firstError: unknown;
  let failed = false;
  const worker = async (): Promise<void> => {
    const child = signal ? childSignal(signal) : undefined;
    try {
      while (!failed && next < items.length) {
        if (signal?.aborted) return;
        const i = next++;
        try {
          await fn(items[i]!, i, child?.signal);
        } catch (err) {
          if (!failed) {
            failed = true;
            firstError = err;
          }
        }
      }
    } finally {
      child?.dispose();
    }
  };
  const n = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (failed) throw firstError;
}
