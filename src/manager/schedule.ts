/**
 * Scheduling decisions as pure functions: effective intervals (off / clamped) and when the first
 * backup runs given the last successful one persisted in the state folder.
 */

export { DEFAULT_BACKUP_INTERVAL_S, DEFAULT_SYNC_INTERVAL_S } from "../config/defaults.js";
/** Shortest backup interval the manager accepts. */
export const MIN_BACKUP_INTERVAL_S = 300;
/** Shortest sync interval the manager accepts. */
export const MIN_SYNC_INTERVAL_S = 60;
/** Delay before the first backup after start when one is due (the plugin's start delay). */
export const BACKUP_START_DELAY_MS = 30_000;
/** Delay before the first periodic sync after start (the plugin's start delay). */
export const SYNC_START_DELAY_MS = 5_000;

/** The effective interval of a schedule. */
export type IntervalDecision =
  | { enabled: false; configured: number }
  | { enabled: true; configured: number; seconds: number; clamped: boolean };

/**
 * Interval in seconds → off (0, negative or not a number) or the effective interval, raised to
 * `minimum` (and flagged `clamped`) when lower.
 */
export function decideInterval(configured: number | undefined, fallback: number, minimum: number): IntervalDecision {
  const value = configured ?? fallback;
  if (!Number.isFinite(value) || value <= 0) return { enabled: false, configured: value };
  const seconds = Math.max(value, minimum);
  return { enabled: true, configured: value, seconds, clamped: seconds !== value };
}

/** The warning logged when an interval was raised to its minimum (the plugin's wording). */
export function clampWarning(d: IntervalDecision & { enabled: true }): string {
  return `Interval increased from ${d.configured}s to ${d.seconds}s (minimum)`;
}

/**
 * Milliseconds from `now` until the first scheduled backup. Without a recorded success the first
 * backup runs after `startDelayMs`; otherwise at `lastSuccess + interval`, but never sooner than
 * `startDelayMs` (a host that was down past the due time backs up soon after start) and never later
 * than one interval from now (a success time in the future means the clock moved back).
 */
export function firstBackupDelay(params: {
  now: number;
  intervalMs: number;
  lastSuccessAt?: string | number | Date;
  startDelayMs?: number;
}): number {
  const startDelay = params.startDelayMs ?? BACKUP_START_DELAY_MS;
  const last = parseTime(params.lastSuccessAt);
  if (last === undefined) return startDelay;
  const due = last + params.intervalMs - params.now;
  return Math.min(Math.max(due, startDelay), Math.max(params.intervalMs, startDelay));
}

function parseTime(t: string | number | Date | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : typeof t === "number" ? t : Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}
