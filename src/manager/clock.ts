/**
 * Time as the managers see it: `now()` plus one-shot timers. The real clock wraps the global
 * timers; {@link ManualClock} is a deterministic clock for tests and for hosts that drive time
 * themselves. Every timer the managers arm goes through a {@link Clock}, so "no timers left after
 * stop" can be checked on the clock itself.
 */

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = object;

/** The time source and timer factory used by the managers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** Longest delay a Node timer accepts (larger values fire after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The real clock. Timers are NOT unref'd: a started manager is a service that keeps its host alive
 * until `stop()`, which clears every timer it armed. Delays beyond ~24.8 days are chained.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const box: { t?: NodeJS.Timeout } = {};
    const arm = (left: number) => {
      const step = Math.min(Math.max(0, left), MAX_TIMER_MS);
      box.t = setTimeout(() => (left > step ? arm(left - step) : fn()), step);
    };
    arm(ms);
    return box;
  },
  clearTimeout(handle) {
    const box = handle as { t?: NodeJS.Timeout };
    if (box.t) clearTimeout(box.t);
    box.t = undefined;
  },
};

interface ManualTimer {
  id: number;
  at: number;
  fn: () => void;
}

/** Lets pending promise callbacks and I/O completions that are already due run. */
async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A clock that only moves when told to. {@link advance} fires due timers in time order, letting
 * promise callbacks run between them, so chained timers scheduled by a fired callback fire too when
 * they fall inside the advanced span.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<number, ManualTimer>();

  /** @param start Initial time (ms since the epoch or a Date). Default 2026-01-01T00:00:00Z. */
  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === "number" ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { id, at: this.current + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: number }).id;
    if (typeof id === "number") this.timers.delete(id);
  }

  /** Number of timers armed and not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Delays (ms from now) of the pending timers, soonest first. */
  pendingDelays(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.current).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (in order). */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await flush();
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.timers.values()) if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      if (!next) break;
      this.timers.delete(next.id);
      this.current = Math.max(this.current, next.at);
      next.fn();
      await flush();
    }
    this.current = target;
    await flush();
  }
}
