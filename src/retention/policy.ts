/**
 * Retention policies: the config forms (`backup.retain`) and their normalised, validated shape.
 *
 * - A number N keeps the N newest snapshots (`last: N`); 0 is treated as 1 as the plugin did, and
 *   -1 keeps all.
 * - An object is read literally with restic's `forget --keep-*` meaning. Unlike the plugin, a missing
 *   `daily` is NOT defaulted to 7: `{ "weekly": 4 }` keeps four weekly snapshots and nothing else.
 *   Counts are whole numbers >= 0, or -1 for unlimited; durations are restic's `"1y2m3d4h"`.
 * - A policy with no rule set (or every rule zero) is refused with `CONFIG_INVALID` rather than read
 *   as "delete everything" or "keep everything".
 */
import { WorkspaceSyncError } from "../errors.js";
import type { RetainSetting } from "../config/types.js";
import { formatRetentionDuration, isZeroDuration, parseRetentionDuration, type RetentionDuration } from "./duration.js";

/** The count rules, in restic's evaluation order. */
export const COUNT_RULES = ["last", "hourly", "daily", "weekly", "monthly", "yearly"] as const;
/** The duration rules. */
export const WITHIN_RULES = ["within", "withinHourly", "withinDaily", "withinWeekly", "withinMonthly", "withinYearly"] as const;

/** A count rule name. */
export type CountRule = (typeof COUNT_RULES)[number];
/** A duration rule name. */
export type WithinRule = (typeof WITHIN_RULES)[number];

/**
 * A validated policy. Counts: 0 = rule off, -1 = unlimited, otherwise how many buckets to keep.
 * Durations: `undefined` = rule off (a zero duration is normalised to `undefined`).
 */
export type RetentionPolicy = { readonly [K in CountRule]: number } & { readonly [K in WithinRule]?: RetentionDuration };

/** What {@link normalizePolicy} accepts: a config value, or an already normalised policy. */
export type PolicyInput = RetainSetting | RetentionPolicy;

const KEY = "backup.retain";
const EMPTY_MESSAGE = `${KEY} is empty: set e.g. { "daily": 7 } or a number`;

/**
 * Validates a `backup.retain` value and returns its normalised policy.
 * @throws {WorkspaceSyncError} `CONFIG_INVALID` naming the key (`backup.retain.<key>`) for a
 *   malformed value, an unknown key, a negative count other than -1, a bad or negative duration, or an
 *   empty policy.
 */
export function normalizePolicy(input: PolicyInput): RetentionPolicy {
  if (typeof input === "number") {
    const n = checkCount(input, KEY);
    return { ...zeroCounts(), last: n === 0 ? 1 : n };
  }
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new WorkspaceSyncError(
      "CONFIG_INVALID",
      `${KEY} must be a number of snapshots or a policy object, got ${describeValue(input)}: set e.g. 7 or { "daily": 7, "weekly": 4 }`,
      { path: KEY },
    );
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(COUNT_RULES as readonly string[]).includes(key) && !(WITHIN_RULES as readonly string[]).includes(key)) {
      throw new WorkspaceSyncError(
        "CONFIG_INVALID",
        `${KEY}.${key} is not a retention rule: use ${[...COUNT_RULES, ...WITHIN_RULES].join(", ")}`,
        { path: `${KEY}.${key}` },
      );
    }
  }
  const counts = zeroCounts();
  for (const rule of COUNT_RULES) {
    const v = raw[rule];
    if (v !== undefined) counts[rule] = checkCount(v, `${KEY}.${rule}`);
  }
  const policy: { -readonly [K in keyof RetentionPolicy]: RetentionPolicy[K] } = { ...counts };
  for (const rule of WITHIN_RULES) {
    const d = checkDuration(raw[rule], `${KEY}.${rule}`);
    if (d) policy[rule] = d;
  }
  if (isEmptyPolicy(policy)) throw new WorkspaceSyncError("CONFIG_INVALID", EMPTY_MESSAGE, { path: KEY });
  return policy;
}

/** True when no rule is set: such a policy must never be applied. */
export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return COUNT_RULES.every((r) => policy[r] === 0) && WITHIN_RULES.every((r) => policy[r] === undefined);
}

/**
 * A one-line description in restic's words, for logs: e.g.
 * `keep 7 daily, 4 weekly, all yearly snapshots and all snapshots within 30d of the newest`.
 */
export function describePolicy(policy: RetentionPolicy): string {
  const names: Record<CountRule, string> = { last: "latest", hourly: "hourly", daily: "daily", weekly: "weekly", monthly: "monthly", yearly: "yearly" };
  const counts = COUNT_RULES.filter((r) => policy[r] !== 0).map((r) => `${policy[r] === -1 ? "all" : policy[r]} ${names[r]}`);
  const withins = WITHIN_RULES.slice(1)
    .filter((r) => policy[r] !== undefined)
    .map((r) => `${r.slice("within".length).toLowerCase()} snapshots within ${formatRetentionDuration(policy[r] as RetentionDuration)}`);
  let s = counts.length ? `${counts.join(", ")} snapshots` : "";
  if (withins.length) s += (s ? ", " : "") + withins.join(", ");
  if (policy.within) s += `${s ? " and " : ""}all snapshots within ${formatRetentionDuration(policy.within)} of the newest`;
  return s ? `keep ${s}` : "remove";
}

function zeroCounts(): Record<CountRule, number> {
  return { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 };
}

function checkCount(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new WorkspaceSyncError("CONFIG_INVALID", `${path} must be a whole number (or -1 for unlimited), got ${describeValue(v)}`, { path });
  }
  if (v < -1) {
    throw new WorkspaceSyncError("CONFIG_INVALID", `${path} is ${v}: negative values other than -1 (unlimited) are not allowed`, { path });
  }
  return v;
}

function checkDuration(v: unknown, path: string): RetentionDuration | undefined {
  if (v === undefined) return undefined;
  let d: RetentionDuration;
  if (typeof v === "string") d = parseRetentionDuration(v, path);
  else if (isDurationObject(v)) d = { years: v.years, months: v.months, days: v.days, hours: v.hours };
  else {
    throw new WorkspaceSyncError("CONFIG_INVALID", `${path} must be a duration string like "7d" or "1y6m", got ${describeValue(v)}`, { path });
  }
  return isZeroDuration(d) ? undefined : d;
}

function isDurationObject(v: unknown): v is RetentionDuration {
  if (v === null || typeof v !== "object") return false;
  const o = v as Record<string, unknown>;
  return (["years", "months", "days", "hours"] as const).every((k) => typeof o[k] === "number" && Number.isInteger(o[k]) && (o[k] as number) >= 0);
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "object") return "an object";
  return String(v);
}
