/**
 * `Lane`: the timer state machine of one schedule (the manager has two: backups and syncs).
 *
 * A lane holds at most one run in flight and at most one armed timer. Ticks are chained: the next
 * one is armed only after the previous tick's run settled, so runs of one lane never overlap.
 * Every schedule has a generation; `reset()` and `halt()` start a new one, and timers or
 * callbacks of an older generation do nothing. It knows nothing about what a run does, how it is
 * logged or counted: that is the manager's policy.
 */
import type { Clock, TimerHandle } from "./clock.js";

/** A run in flight and the controller that aborts it. */
export interface Running<R> {
  promise: Promise<R>;
  controller: AbortController;
}

/** What {@link Lane.runWhenIdle} resolves with when it did not start a run. */
export type NotStarted = "busy" | "stopped";

/** One schedule: its timer, the run in flight and a generation that stale callbacks check. */
export class Lane<R> {
  private isScheduled = false;
  private timer: TimerHandle | undefined;
  private nextAt: number | undefined;
  private gen = 0;
  /** Incremented by halt(): waiters that started before a halt give up. */
  private stops = 0;
  private running: Running<R> | undefined;
  private intervalMs = 0;
  private tick: (() => Promise<unknown>) | undefined;

  constructor(private readonly clock: Clock) {}

  /** True while a schedule is active (between `begin` and `reset`/`halt`). */
  get scheduled(): boolean {
    return this.isScheduled;
  }

  /** When the armed timer fires (epoch ms), or undefined when none is armed. */
  get nextRunAt(): number | undefined {
    return this.nextAt;
  }

  /** The current schedule's generation. */
  get generation(): number {
    return this.gen;
  }

  /** True while a run is in flight. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Clears the timer, ends the current schedule (its stale callbacks stop) and returns the new generation. */
  reset(): number {
    this.disarm();
    return ++this.gen;
  }

  /**
   * Begins schedule `gen` (from {@link reset}): each tick calls `tick` and, once the promise it
   * returns settles, arms the next tick `intervalMs` later. Nothing is armed yet: see {@link armIn}.
   * Returns false (and does nothing) when `gen` is stale.
   */
  begin(gen: number, intervalMs: number, tick: () => Promise<unknown>): boolean {
    if (gen !== this.gen) return false;
    this.isScheduled = true;
    this.intervalMs = intervalMs;
    this.tick = tick;
    return true;
  }

  /** True when schedule `gen` is still the active one. */
  isActive(gen: number): boolean {
    return this.isScheduled && gen === this.gen;
  }

  /** Arms the next tick of schedule `gen` in `delayMs` (replacing an armed timer); ignored when `gen` is not active. */
  armIn(gen: number, delayMs: number): void {
    if (!this.isActive(gen)) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.nextAt = this.clock.now() + delayMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.nextAt = undefined;
      if (this.isActive(gen)) this.fire(gen);
    }, delayMs);
  }

  /**
   * Moves an armed timer of schedule `gen` to one full interval from now (a manual run counts as
   * the scheduled one). Does nothing when `gen` is stale or no timer is armed (a tick is running).
   */
  postpone(gen: number): void {
    if (this.isActive(gen) && this.timer && this.intervalMs) this.armIn(gen, this.intervalMs);
  }

  private fire(gen: number): void {
    const tick = this.tick;
    if (!tick) return;
    void tick().then(
      () => this.armIn(gen, this.intervalMs),
      () => this.armIn(gen, this.intervalMs),
    );
  }

  /** Starts `work` as the lane's run in flight (the caller has checked that none runs). */
  start(work: (signal: AbortSignal) => Promise<R>): Promise<R> {
    const controller = new AbortController();
    const promise: Promise<R> = work(controller.signal).finally(() => {
      if (this.running?.promise === promise) this.running = undefined;
    });
    this.running = { promise, controller };
    return promise;
  }

  /** Joins the run in flight, or starts `work` when none runs. */
  startOrJoin(work: (signal: AbortSignal) => Promise<R>): Promise<R> {
    return this.running ? this.running.promise : this.start(work);
  }

  /**
   * Waits until no run is in flight (at most `waitMs` when given), then starts `work` at once (in
   * the same turn, so two waiters never both start). Resolves "busy" when the wait ran out and
   * "stopped" when {@link halt} was called while waiting.
   */
  async runWhenIdle(waitMs: number | undefined, work: (signal: AbortSignal) => Promise<R>): Promise<R | NotStarted> {
    const stops = this.stops;
    const deadline = waitMs === undefined ? undefined : this.clock.now() + waitMs;
    while (this.running) {
      const left = deadline === undefined ? undefined : deadline - this.clock.now();
      if (left !== undefined && left <= 0) return "busy";
      const settled = await settleWithin(this.clock, this.running.promise, left);
      if (this.stops !== stops) return "stopped";
      if (!settled) return "busy";
    }
    return this.start(work);
  }

  /** Ends the schedule, aborts the run in flight with `reason`; returns what to wait for. */
  halt(reason: Error): Promise<unknown>[] {
    this.disarm();
    this.gen++;
    this.stops++;
    if (!this.running) return [];
    this.running.controller.abort(reason);
    return [this.running.promise];
  }

  private disarm(): void {
    this.isScheduled = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAt = undefined;
  }
}

/** Resolves true when `promise` settles within `ms` (no limit when undefined), false otherwise. The timer is always cleared. */
export function settleWithin(clock: Clock, promise: Promise<unknown>, ms: number | undefined): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  );
  if (ms === undefined) return settled;
  let timer: TimerHandle | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), Math.max(0, ms));
  });
  return Promise.race([settled, timeout]).finally(() => {
    if (timer) clock.clearTimeout(timer);
  });
}
