/**
 * What a finished backup or sync means for the manager: whether it was cancelled, whether it
 * counts in the status counters, and whether `error` listeners hear of it. Pure policy, no wording
 * (that is messages.ts).
 */
import type { ErrorCode } from "../errors.js";

/** How a run ended, as the manager sees it. */
export type RunOutcome = "ok" | "failed" | "cancelled";

/** The manager's decisions about one finished run. */
export interface RunVerdict {
  outcome: RunOutcome;
  /** Counted in `status()` (runs, errors, last run): not when cancelled, not for dry runs. */
  counted: boolean;
  /** Reported to `error` listeners: a counted failure. */
  reportError: boolean;
}

/**
 * Judges a finished run. A failure is a cancellation when the run's signal fired (`stop()`), or
 * the result says `ABORTED`; a cancelled run is neither counted nor reported. A dry run changes
 * nothing, so it is not counted either.
 */
export function judgeRun(result: { ok: true } | { ok: false; code: ErrorCode }, aborted: boolean, dryRun = false): RunVerdict {
  if (!result.ok && (result.code === "ABORTED" || aborted)) return { outcome: "cancelled", counted: false, reportError: false };
  const outcome: RunOutcome = result.ok ? "ok" : "failed";
  if (dryRun) return { outcome, counted: false, reportError: false };
  return { outcome, counted: true, reportError: !result.ok };
}
