/**
 * Modification times at nanosecond precision: reading them from `lstat` (bigint), writing them with
 * `utimes`, and rclone's text form (seconds with up to nine decimals, as stored in S3 `mtime`
 * metadata). Pure helpers plus one file-system call.
 */
import { promises as fsp } from "node:fs";

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

/**
 * How precisely this library sets a file's time: Node passes times to the OS as a double of
 * seconds, and libuv up to 1.49 (Node 20) truncates them to the microsecond.
 */
export const SET_MTIME_PRECISION_NS = 1000;

/** A date's whole milliseconds; `undefined` for no date or an invalid one (a time a backend sent that did not parse). */
export function msOfDate(date: Date | undefined): number | undefined {
  const ms = date?.getTime();
  return ms === undefined || !Number.isFinite(ms) ? undefined : Math.trunc(ms);
}

/**
 * Whether a nanosecond time fits a 64-bit integer (a `BigInt64Array` slot): from 1678 to 2262.
 * File systems keep times outside it (ext4 to 2446), which such a slot would silently wrap.
 */
export function fitsInt64(ns: bigint): boolean {
  return BigInt.asIntN(64, ns) === ns;
}

/** Whole milliseconds of a nanosecond time, truncated toward zero (as `Math.trunc(stat.mtimeMs)`). */
export function msFromNs(ns: bigint): number {
  return Number(ns / NS_PER_MS);
}

/** A millisecond time (fractions dropped) in nanoseconds. */
export function nsFromMs(ms: number): bigint {
  return BigInt(Math.trunc(ms)) * NS_PER_MS;
}

/** Floor division for bigint (toward minus infinity). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

/**
 * The argument to give `fs.utimes` for `ns`: a decimal string of seconds (a number or Date would
 * lose the sub-millisecond part, and Node turns a negative number into "now"). Node converts it to
 * a double (about 0.24 µs apart today) and libuv up to 1.49 then truncates toward zero to the
 * microsecond; moving the value half a microsecond away from zero first keeps the file's time
 * within 0.62 µs of `ns` either way (before 1970 too), so it compares equal at
 * {@link SET_MTIME_PRECISION_NS}.
 */
export function utimesArg(ns: bigint): string {
  return formatSeconds9(ns + (ns < 0n ? -500n : 500n));
}

/** Seconds with nine decimals, signed as a whole (`-1.500000000` is -1.5 s). */
function formatSeconds9(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  return `${neg ? "-" : ""}${(abs / NS_PER_S).toString()}.${(abs % NS_PER_S).toString().padStart(9, "0")}`;
}

/** Sets the access and modification time of `path` to `ns` (see {@link utimesArg} for the precision). */
export async function setFileTimes(path: string, ns: bigint): Promise<void> {
  const t = utimesArg(ns);
  await fsp.utimes(path, t, t);
}

/**
 * rclone's text form of a time: seconds since the epoch with the fraction's trailing zeros (and a
 * bare point) dropped: `1614834367.123456789`, `1577836800.5`, `-315619200`, `-0.25`.
 */
export function formatRcloneSeconds(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const sec = abs / NS_PER_S;
  const frac = (abs % NS_PER_S).toString().padStart(9, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${sec.toString()}${frac ? `.${frac}` : ""}`;
}

/** A time in nanoseconds with the precision it was stored at (nanoseconds per unit). */
export interface PreciseTime {
  ns: bigint;
  precisionNs: number;
}

/**
 * Parses a stored time: rclone's seconds with up to nine decimals (more are truncated), or a plain
 * integer of milliseconds (above 1e11, an older form). Exactly three decimals is this library's
 * older form (`toFixed(3)`) and counts as millisecond precision; anything else as exact.
 * `undefined` for anything else.
 */
export function parseRcloneSeconds(value: string | undefined): PreciseTime | undefined {
  const m = /^\s*(-?)(\d{1,15})(?:\.(\d+))?\s*$/.exec(value ?? "");
  if (!m) return undefined;
  const [, sign, whole, fraction] = m;
  const neg = sign === "-";
  let ns: bigint;
  let precisionNs = 1;
  if (fraction === undefined && Number(whole) > 1e11) {
    ns = BigInt(whole!) * NS_PER_MS;
    precisionNs = 1_000_000;
  } else {
    ns = BigInt(whole!) * NS_PER_S + BigInt((fraction ?? "").slice(0, 9).padEnd(9, "0"));
    if (fraction?.length === 3) precisionNs = 1_000_000;
  }
  if (neg) ns = -ns;
  // Beyond what a Date can hold is not a time.
  if (ns > 8_640_000_000_000_000_000_000n || ns < -8_640_000_000_000_000_000_000n) return undefined;
  return { ns, precisionNs };
}

/** A Date (milliseconds, floored) of a nanosecond time. */
export function dateFromNs(ns: bigint): Date {
  return new Date(Number(floorDiv(ns, NS_PER_MS)));
}
