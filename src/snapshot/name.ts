/**
 * Snapshot names: `backup-YYYYMMDDTHHMMSSZ.tar.gz.enc` (`.tar.gz` when not encrypted), UTC, as the
 * plugin writes them. A second backup within the same second gets `-1`, `-2`, ... after the time so it
 * never overwrites the first. Pure functions, no I/O.
 */

/** A parsed snapshot name. */
export interface SnapshotInfo {
  /** The file name. */
  name: string;
  /** The UTC time encoded in the name. */
  time: Date;
  /** Collision counter within one second (0 for the first). */
  sequence: number;
  /** Whether the name ends in `.enc`. */
  encrypted: boolean;
}

const NAME_RE = /^backup-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-(\d{1,6}))?\.tar\.gz(\.enc)?$/;

/** Builds the snapshot name for `time` (UTC). */
export function formatSnapshotName(time: Date, encrypted: boolean, sequence = 0): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const stamp =
    `${p(time.getUTCFullYear(), 4)}${p(time.getUTCMonth() + 1)}${p(time.getUTCDate())}` +
    `T${p(time.getUTCHours())}${p(time.getUTCMinutes())}${p(time.getUTCSeconds())}Z`;
  return `backup-${stamp}${sequence > 0 ? `-${sequence}` : ""}.tar.gz${encrypted ? ".enc" : ""}`;
}

/** Parses a snapshot name; `undefined` when it is not one (such names are never pruned). */
export function parseSnapshotName(name: string): SnapshotInfo | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const time = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Reject dates that Date.UTC silently rolls over (e.g. month 13, Feb 30).
  if (time.getUTCMonth() !== mo - 1 || time.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  const info = { name, time, sequence: m[7] ? Number(m[7]) : 0, encrypted: m[8] !== undefined };
  // Only the form we write (a year below 1000 reads as 19xx, `-0` and `-01` as other names'
  // sequences): a name that is not one of ours spelt another way.
  return formatSnapshotName(info.time, info.encrypted, info.sequence) === name ? info : undefined;
}

/** Orders snapshots newest first (by time, then sequence). */
export function compareNewestFirst(a: SnapshotInfo, b: SnapshotInfo): number {
  return b.time.getTime() - a.time.getTime() || b.sequence - a.sequence;
}
