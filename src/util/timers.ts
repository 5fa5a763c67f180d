/**
 * Timers whose delay comes from outside (config, options, server hints). Node's `setTimeout` takes at
 * most 2^31-1 ms (~24.8 days): a larger delay prints `TimeoutOverflowWarning` and fires after 1 ms,
 * so a `timeout: 1e10` would abort a run at once. Everything here clamps or chains instead.
 */

/** Longest delay a single Node timer accepts, in ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A delay Node accepts: `ms` rounded into [0, {@link MAX_TIMER_MS}]; NaN counts as 0. Use it where
 * the delay is a retry step or a socket timeout, for which 24.8 days already means "never".
 */
export function clampTimerMs(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return Math.min(Math.round(ms), MAX_TIMER_MS);
}

/** A timer from {@link setLongTimeout}. */
export interface LongTimeout {
  /** Cancels the timer; calling it again (or after it fired) does nothing. */
  clear(): void;
}

/**
 * Runs `fn` once after `ms` milliseconds, however large: delays beyond {@link MAX_TIMER_MS} are
 * chained, `Infinity` never fires. `unref` keeps the timer from holding the process open.
 */
export function setLongTimeout(fn: () => void, ms: number, options: { unref?: boolean } = {}): LongTimeout {
  let timer: NodeJS.Timeout | undefined;
  let cleared = false;
  const arm = (left: number): void => {
    if (cleared || left === Infinity) return;
    const step = clampTimerMs(left);
    timer = setTimeout(() => (left - step > 0 ? arm(left - step) : fn()), step);
    if (options.unref) timer.unref();
  };
  arm(Number.isNaN(ms) ? 0 : Math.max(0, ms));
  return {
    clear() {
      cleared = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
