/**
 * The one bounded worker pool: at most `limit` calls in flight, the first rejection rejects the
 * whole call after the calls in flight settle (no new ones start).
 */
import { childSignal } from "./abort.js";

/**
 * Longest stretch (ms) of calls that complete without waiting for the event loop (synchronous
 * copies of small files resolve at once) before the pool lets timers and I/O run: a first sync of
 * 100 000 small files blocked its host's event loop for 23 s without it.
 */
export const EVENT_LOOP_TURN_MS = 20;

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
  // One turn for the whole pool: every worker waits for the same one, so the pool as a whole
  // gives the loop a turn every EVENT_LOOP_TURN_MS (not each worker in its own stretch).
  let turnAt = performance.now();
  let turn: Promise<void> | undefined;
  const nextTurn = (): Promise<void> =>
    (turn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        turn = undefined;
        turnAt = performance.now();
        resolve();
      }),
    ));
  const worker = async (): Promise<void> => {
    const child = signal ? childSignal(signal) : undefined;
    try {
      while (!failed && next < items.length) {
        if (performance.now() - turnAt > EVENT_LOOP_TURN_MS) {
          // Calls that never wait keep the pool in microtasks, where timers and I/O never run.
          await nextTurn();
          continue; // (the items may be taken meanwhile)
        }
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
