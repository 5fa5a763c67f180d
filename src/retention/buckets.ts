/**
 * Calendar bucket keys for the count rules, in UTC (snapshot names are UTC, and keys must not change
 * with the process time zone). Keys are integers like restic's: YYYYMMDDHH, YYYYMMDD, ISO YYYYWW,
 * YYYYMM and YYYY. Two snapshots are in the same bucket exactly when their keys are equal.
 */

/** `YYYYMMDDHH`: the UTC hour. */
export function hourKey(t: Date): number {
  return dayKey(t) * 100 + t.getUTCHours();
}

/** `YYYYMMDD`: the UTC day. */
export function dayKey(t: Date): number {
  return t.getUTCFullYear() * 10000 + (t.getUTCMonth() + 1) * 100 + t.getUTCDate();
}

/**
 * `YYYYWW` with the ISO 8601 week-numbering year and week (weeks run Monday to Sunday; week 1 holds
 * the year's first Thursday). So 2020-12-31 and 2021-01-01 are both 202053, and 2024-12-30 is 202501.
 */
export function isoWeekKey(t: Date): number {
  const { year, week } = isoWeek(t);
  return year * 100 + week;
}

/** The ISO 8601 week-numbering year and week number of `t` (UTC). */
export function isoWeek(t: Date): { year: number; week: number } {
  const ms = t.getTime();
  const day = ms - (((ms % 86_400_000) + 86_400_000) % 86_400_000); // UTC midnight
  const weekday = (t.getUTCDay() + 6) % 7; // Monday = 0
  const thursday = new Date(day + (3 - weekday) * 86_400_000);
  const year = thursday.getUTCFullYear();
  const jan1 = new Date(0);
  jan1.setUTCFullYear(year, 0, 1);
  const week = Math.floor((thursday.getTime() - jan1.getTime()) / (7 * 86_400_000)) + 1;
  return { year, week };
}

/** `YYYYMM`: the UTC month. */
export function monthKey(t: Date): number {
  return t.getUTCFullYear() * 100 + t.getUTCMonth() + 1;
}

/** `YYYY`: the UTC year. */
export function yearKey(t: Date): number {
  return t.getUTCFullYear();
}
