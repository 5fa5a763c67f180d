/**
 * The retention decision: which snapshots a policy keeps, and why. A pure function reproducing
 * restic's `ApplyPolicy` (`internal/data/snapshot_policy.go`), with calendar buckets in UTC.
 */
import { WorkspaceSyncError } from "../errors.js";
import { parseSnapshotName } from "../snapshot/index.js";
import { dayKey, hourKey, isoWeekKey, monthKey, yearKey } from "./buckets.js";
import { formatRetentionDuration, subtractDuration, type RetentionDuration } from "./duration.js";
import { normalizePolicy, type CountRule, type PolicyInput, type WithinRule } from "./policy.js";

/** What a snapshot needs for planning. Other fields are carried through untouched. */
export interface RetentionCandidate {
  /** Unique name (the reasons map is keyed by it). */
  name: string;
  /** When the snapshot was taken. */
  time: Date;
  /**
   * Order within one second, higher = newer (snapshot names' `-1`, `-2` suffix). When absent it is
   * read from the name if the name is a snapshot name, else 0.
   */
  sequence?: number;
}

/** The result of {@link planRetention}. Both lists are ordered newest first. */
export interface RetentionPlan<T extends RetentionCandidate> {
  keep: T[];
  prune: T[];
  /**
   * For each kept snapshot's name, the rules that kept it, in restic's words: `"last snapshot"`,
   * `"daily snapshot"`, `"oldest monthly snapshot"`, `"within 7d"`, `"daily within 30d"`,
   * `"oldest weekly within 1y"`, ... Pruned snapshots have no entry. A plain record, so it serialises to JSON.
   */
  reasons: Record<string, string[]>;
}

/** Options of {@link planRetention}. */
export interface RetentionPlanOptions {
  /**
   * The current time (default: now). As in restic, the `within*` rules measure from the newest
   * snapshot that is not in the future; snapshots dated after `now` are therefore always within.
   */
  now?: Date;
}

type BucketFn = (t: Date, nr: number) => number;

const COUNT_BUCKETS: readonly [CountRule, BucketFn, string][] = [
  ["last", (_t, nr) => nr, "last snapshot"],
  ["hourly", hourKey, "hourly snapshot"],
  ["daily", dayKey, "daily snapshot"],
  ["weekly", isoWeekKey, "weekly snapshot"],
  ["monthly", monthKey, "monthly snapshot"],
  ["yearly", yearKey, "yearly snapshot"],
];

const WITHIN_BUCKETS: readonly [WithinRule, BucketFn, string][] = [
  ["withinHourly", hourKey, "hourly within"],
  ["withinDaily", dayKey, "daily within"],
  ["withinWeekly", isoWeekKey, "weekly within"],
  ["withinMonthly", monthKey, "monthly within"],
  ["withinYearly", yearKey, "yearly within"],
];

/**
 * Applies `policy` to `snapshots` and returns what to keep and what to prune (together exactly the
 * input) with the reasons for each keep. Same results as restic's `forget` for the same times:
 *
 * - snapshots are sorted newest first (ties: higher `sequence` first, then name, descending);
 * - a count rule (`last`, `hourly` … `yearly`) keeps a snapshot whenever its bucket (UTC hour, day,
 *   ISO week, month, year; every snapshot for `last`) differs from the previous snapshot's, and uses up
 *   one of its count (-1 never runs out); a snapshot may satisfy several rules at once;
 * - a rule with count left when the oldest snapshot is reached keeps that one too ("oldest daily snapshot");
 * - `within` keeps everything strictly newer than newest minus the duration; `withinDaily` etc. keep
 *   one snapshot per bucket inside that range, with the same "oldest" rule.
 *
 * @throws {WorkspaceSyncError} `CONFIG_INVALID` for an invalid or empty policy (see {@link normalizePolicy}).
 */
export function planRetention<T extends RetentionCandidate>(snapshots: readonly T[], policy: PolicyInput, options: RetentionPlanOptions = {}): RetentionPlan<T> {
  const p = normalizePolicy(policy);
  for (const s of snapshots) {
    if (!(s.time instanceof Date) || Number.isNaN(s.time.getTime())) {
      throw new WorkspaceSyncError("SNAPSHOT_CORRUPT", `Snapshot ${s.name} has no valid time: it cannot be planned`, { path: s.name });
    }
  }
  const list = sortNewestFirst(snapshots);
  const keep: T[] = [];
  const prune: T[] = [];
  const reasons: Record<string, string[]> = {};
  if (list.length === 0) return { keep, prune, reasons };

  const newest = newestNotInFuture(list, options.now ?? new Date());
  const cutoff = (d: RetentionDuration): number => (newest === undefined ? -Infinity : subtractDuration(newest, d));

  const counters = COUNT_BUCKETS.filter(([rule]) => p[rule] !== 0).map(([rule, bucket, reason]) => ({ left: p[rule], bucket, reason, prev: undefined as number | undefined }));
  const withins = WITHIN_BUCKETS.filter(([rule]) => p[rule] !== undefined).map(([rule, bucket, reason]) => {
    const d = p[rule] as RetentionDuration;
    return { after: cutoff(d), bucket, reason: `${reason} ${formatRetentionDuration(d)}`, prev: undefined as number | undefined };
  });
  const within = p.within ? { after: cutoff(p.within), reason: `within ${formatRetentionDuration(p.within)}` } : undefined;

  list.forEach((snap, nr) => {
    const t = snap.time;
    const ms = t.getTime();
    const oldest = nr === list.length - 1;
    const why: string[] = [];
    if (within && ms > within.after) why.push(within.reason);
    for (const c of counters) {
      if (c.left === 0) continue;
      const key = c.bucket(t, nr);
      if (key !== c.prev || oldest) {
        why.push(key === c.prev ? `oldest ${c.reason}` : c.reason);
        c.prev = key;
        if (c.left > 0) c.left--;
      }
    }
    for (const w of withins) {
      if (!(ms > w.after)) continue;
      const key = w.bucket(t, nr);
      if (key !== w.prev || oldest) {
        why.push(key === w.prev ? `oldest ${w.reason}` : w.reason);
        w.prev = key;
      }
    }
    if (why.length > 0) {
      keep.push(snap);
      setReasons(reasons, snap.name, why);
    } else {
      prune.push(snap);
    }
  });
  return { keep, prune, reasons };
}

/** Newest first: by time, then sequence, then name (descending), so the order never depends on listing order. */
export function sortNewestFirst<T extends RetentionCandidate>(snapshots: readonly T[]): T[] {
  const seq = (s: T): number => s.sequence ?? parseSnapshotName(s.name)?.sequence ?? 0;
  return snapshots
    .map((s) => ({ s, seq: seq(s) }))
    .sort((a, b) => b.s.time.getTime() - a.s.time.getTime() || b.seq - a.seq || (a.s.name < b.s.name ? 1 : a.s.name > b.s.name ? -1 : 0))
    .map((x) => x.s);
}

/** restic's reference point for durations: the newest snapshot strictly before `now`. */
function newestNotInFuture(list: readonly RetentionCandidate[], now: Date): Date | undefined {
  const limit = now.getTime();
  return list.find((s) => s.time.getTime() < limit)?.time;
}

/** Sets `reasons[name]` as an own property, whatever the name (even `__proto__`). */
export function setReasons(reasons: Record<string, string[]>, name: string, why: string[]): void {
  Object.defineProperty(reasons, name, { value: why, enumerable: true, writable: true, configurable: true });
}
