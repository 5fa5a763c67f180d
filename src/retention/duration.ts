/**
 * Retention durations in restic's notation: a run of `<number><unit>` pairs with units `y` (years),
 * `m` (months), `d` (days) and `h` (hours), e.g. `"7d"`, `"1y2m3d4h"`. Like restic, there are no weeks
 * (`"1w"` is refused: write `"7d"`) and a repeated unit replaces the earlier value.
 * Years and months are calendar units: they are subtracted with calendar arithmetic (see
 * {@link subtractDuration}), not as a fixed number of hours.
 */
import { WorkspaceSyncError } from "../errors.js";

/** A parsed duration. All parts are whole numbers >= 0. */
export interface RetentionDuration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

const UNITS = { y: "years", m: "months", d: "days", h: "hours" } as const;

/** Largest accepted number in one duration part; keeps date arithmetic inside JavaScript's Date range. */
const MAX_PART = 100_000;

/**
 * Parses `text` ("1y2m3d4h"). Surrounding whitespace is ignored; an empty string is the zero
 * duration (which, as in restic, means "rule not set").
 * @param keyPath config path named in errors, e.g. `backup.retain.within`.
 * @throws {WorkspaceSyncError} `CONFIG_INVALID` for anything else, negative parts included.
 */
export function parseRetentionDuration(text: string, keyPath = "backup.retain.within"): RetentionDuration {
  const d: RetentionDuration = { years: 0, months: 0, days: 0, hours: 0 };
  const bad = (why: string): WorkspaceSyncError =>
    new WorkspaceSyncError(
      "CONFIG_INVALID",
      `${keyPath} ${JSON.stringify(text)} is not a valid duration (${why}): write years, months, days and hours like "1y2m3d4h", e.g. "7d" for a week`,
      { path: keyPath },
    );
  if (typeof text !== "string") throw bad("not a string");
  let rest = text.trim();
  while (rest !== "") {
    // Always matches (both groups may be empty).
    const [whole, minus, digits] = /^(-?)(\d*)/.exec(rest) as unknown as [string, string, string];
    if (digits === "") throw bad(`no number before ${JSON.stringify(rest[whole.length] ?? "")}`);
    if (minus) {
      throw new WorkspaceSyncError("CONFIG_INVALID", `${keyPath} ${JSON.stringify(text)} is negative: durations must not contain negative values`, { path: keyPath });
    }
    const num = Number(digits);
    if (num > MAX_PART) throw bad(`${digits} is too large`);
    rest = rest.slice(whole.length);
    const unit = rest[0];
    if (unit === undefined) throw bad(`no unit after ${num}`);
    if (!(unit in UNITS)) throw bad(`unknown unit ${JSON.stringify(unit)} after ${num}; units are y, m, d, h`);
    d[UNITS[unit as keyof typeof UNITS]] = num;
    rest = rest.slice(1);
  }
  return d;
}

/** Whether every part of `d` is zero (restic: the rule is not set). */
export function isZeroDuration(d: RetentionDuration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

/** restic's canonical text: non-zero parts in y, m, d, h order, e.g. `"1y3d"`; `""` for zero. */
export function formatRetentionDuration(d: RetentionDuration): string {
  return (d.years ? `${d.years}y` : "") + (d.months ? `${d.months}m` : "") + (d.days ? `${d.days}d` : "") + (d.hours ? `${d.hours}h` : "");
}

/**
 * `time` minus `d`, in UTC, the way restic does it (Go `AddDate(-y, -m, -d)` then `Add(-h hours)`):
 * years, months and days are subtracted from the calendar fields together and the result normalised,
 * so 31 March minus one month is 3 March (2 March in a leap year), not the end of February.
 * Returns `-Infinity` milliseconds when the result falls outside JavaScript's Date range.
 */
export function subtractDuration(time: Date, d: RetentionDuration): number {
  const t = new Date(time.getTime());
  // setUTCFullYear with all three fields normalises overflow like Go's time.Date (and avoids Date.UTC's 0-99 → 19xx rule).
  t.setUTCFullYear(t.getUTCFullYear() - d.years, t.getUTCMonth() - d.months, t.getUTCDate() - d.days);
  const ms = t.getTime() - d.hours * 3_600_000;
  return Number.isNaN(ms) ? -Infinity : ms;
}
