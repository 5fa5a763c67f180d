/**
 * The one bounded worker pool: at most `limit` calls in flight, the first rejection rejects the
 * whole call after the calls in flight settle (no new ones start).
 */
import { childSignal } from "./abort.js";

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. With `signal`, each worker gets its
 * own child of it (passed as `fn`'s third argument), so the shared signal carries one listener per
 * worker, never one per stream or request; once it aborts no new call starts (the caller checks
 * the signal afterwards). Rejects with the first error after all started calls settle.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal | undefined) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    const child = signal ? childSignal(signal) : undefined;
    try {
      while (!failed && next < items.length) {
        if (signal?.aborted) return;
        const i = next++;
        try {
          await fn(items[i] as T, i, child?.signal);
        } catch (error) {
          failed ??= { error };
        }
      }
    } finally {
      child?.dispose();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight and returns the results in input
 * order. The first rejection rejects the whole call (after in-flight calls settle).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  await forEachLimit(items, limit, async (item, i) => {
    results[i] = await fn(item, i);
  });
  return results;
}
