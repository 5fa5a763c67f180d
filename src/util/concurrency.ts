/**
 * The one bounded worker pool: at most `limit` calls in flight, the first rejection rejects the
 * whole call after the calls in flight settle (no new ones start).
 */
import { childSignal } from "./abort.js";

/**
 * Longest stretch (ms) of calls that complete without waiting for the event loop (synchronous
 * copies of small files resolve at once) before the pool lets timers, I/O and V8's own tasks run:
 * a first sync of 100 000 small files blocked its host's event loop for 23 s without it. V8 runs
 * the steps that finish a concurrent marking of the heap as tasks of the event loop, and the heap
 * grows until they run: a 40 000-file first sync peaked at 102–103 MiB with a turn every 2 ms
 * against 110–113 MiB every 20 ms on Node 24 (97–99 against 102–104 MiB on Node 22, 89–92 against
 * 94–96 MiB on Node 20), in the same time; its full collections came at ~25 MB of heap instead of ~31.
 */
export const EVENT_LOOP_TURN_MS = 2;

/** Options of {@link forEachLimit}. */
export interface ForEachOptions {
  /**
   * Work on two places of the list at once (see {@link twoHalves}) rather than front to back: a
   * sync's copies, which come folder by folder, then run in two folders at a time.
   */
  twoHalves?: boolean;
}

/**
 * Which half of the list worker `worker` works on with {@link ForEachOptions.twoHalves}: the
 * first worker on the first, every other one on the second. A caller whose calls complete without
 * waiting (the local provider's small copies on the main thread) needs only one worker for them;
 * the rest keep a second thread's queue full (the local provider's copy thread).
 */
export function halfOf(worker: number): 0 | 1 {
  return worker === 0 ? 0 : 1;
}

/**
 * The order of {@link ForEachOptions.twoHalves} over `n` items: the workers are two groups
 * ({@link halfOf}), each taking its own half front to back, then what is left of the other half
 * from its end. At any time the two groups work at different places of the list, until they
 * meet. Returns, for a worker, the next index, or -1 when none is left.
 */
export function twoHalves(n: number): (worker: number) => number {
  const mid = Math.ceil(n / 2);
  // Each half: [front, back).
  const front = [0, mid];
  const back = [mid, n];
  return (worker) => {
    const own = halfOf(worker);
    const other = 1 - own;
    if (front[own]! < back[own]!) return front[own]!++;
    if (front[other]! < back[other]!) return --back[other]!;
    return -1;
  };
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. With `signal`, each worker gets its
 * own child of it (passed as `fn`'s third argument), so the shared signal carries one listener per
 * worker, never one per stream or request; once it aborts no new call starts (the caller checks
 * the signal afterwards). `fn`'s fourth argument is the worker's number (0 to `limit - 1`).
 * Rejects with the first error after all started calls settle.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal | undefined, worker: number) => Promise<void>,
  signal?: AbortSignal,
  options: ForEachOptions = {},
): Promise<void> {
  let next = 0;
  const take = options.twoHalves === true ? twoHalves(items.length) : (): number => (next < items.length ? next++ : -1);
  let left = items.length;
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
  const worker = async (w: number): Promise<void> => {
    const child = signal ? childSignal(signal) : undefined;
    try {
      while (!failed && left > 0) {
        if (performance.now() - turnAt > EVENT_LOOP_TURN_MS) {
          // Calls that never wait keep the pool in microtasks, where timers and I/O never run.
          await nextTurn();
          continue; // (the items may be taken meanwhile)
        }
        if (signal?.aborted) return;
        const i = take(w);
        if (i < 0) return;
        left--;
        try {
          await fn(items[i] as T, i, child?.signal, w);
        } catch (error) {
          failed ??= { error };
        }
      }
    } finally {
      child?.dispose();
    }
  };
  // (A limit that is not a number still runs the items, one at a time.)
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length) || 1) }, (_, w) => worker(w)));
  if (failed) throw failed.error;
}

/** Slots for at most `n` holders at once, given in the order they were asked for. */
export interface Slots {
  /** Resolves once a slot is this caller's. */
  take(): Promise<void>;
  /** Gives a taken slot back (to the next caller waiting, if any). */
  give(): void;
}

/** {@link Slots} for `n` holders. */
export function slotsOf(n: number): Slots {
  let free = Math.max(1, Math.floor(n));
  const waiting: (() => void)[] = [];
  return {
    take: () => {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    give: () => {
      const next = waiting.shift();
      if (next !== undefined) next();
      else free++;
    },
  };
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
