/**
 * planRetention: restic's documented `forget` examples, its edge rules, and our own cases
 * (ties within one second, a single snapshot, ISO weeks across a year boundary, UTC buckets whatever
 * the process time zone, `within` measured from the newest snapshot, unlimited counts, the plugin's
 * number form).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { planRetention, isoWeek, isoWeekKey, subtractDuration, parseRetentionDuration } from "../src/retention/index.js";
import { formatSnapshotName, parseSnapshotName } from "../src/snapshot/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";

const NOW = new Date(Date.UTC(2030, 0, 1));

/** "2025-04-21 11:00" / "2025-04-21 11:00:30" / "... #1" (sequence) → a snapshot. */
function snap(label: string): { label: string; name: string; time: Date; sequence: number } {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d)(?::(\d\d))?(?: #(\d+))?$/.exec(label);
  assert.ok(m, label);
  const time = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
  const sequence = m[7] ? Number(m[7]) : 0;
  return { label, name: formatSnapshotName(time, false, sequence), time, sequence };
}

const labels = (xs: readonly { label: string }[]): string[] => xs.map((x) => x.label);

// restic docs, "Removing snapshots according to a policy": backups every weekday for two weeks,
// an extra one on Fridays, and the second Wednesday missed.
const DOCS_EXAMPLE = [
  "2025-04-21 11:00",
  "2025-04-22 11:00",
  "2025-04-23 11:00",
  "2025-04-24 11:00",
  "2025-04-25 11:00",
  "2025-04-25 23:00",
  "2025-04-28 11:00",
  "2025-04-29 11:00",
  "2025-05-01 11:00",
  "2025-05-02 11:00",
  "2025-05-02 23:00",
].map(snap);

test("restic docs: --keep-daily 5 keeps one per day for the last five days that had a snapshot", () => {
  const plan = planRetention(DOCS_EXAMPLE, { daily: 5 }, { now: NOW });
  assert.deepEqual(labels(plan.keep), ["2025-05-02 23:00", "2025-05-01 11:00", "2025-04-29 11:00", "2025-04-28 11:00", "2025-04-25 23:00"]);
  for (const s of plan.keep) assert.deepEqual(plan.reasons[s.name], ["daily snapshot"]);
  assert.deepEqual(labels(plan.prune), ["2025-05-02 11:00", "2025-04-25 11:00", "2025-04-24 11:00", "2025-04-23 11:00", "2025-04-22 11:00", "2025-04-21 11:00"]);
});

test("restic docs: --keep-within-daily 7d keeps nothing from the first week", () => {
  const plan = planRetention(DOCS_EXAMPLE, { withinDaily: "7d" }, { now: NOW });
  assert.deepEqual(labels(plan.keep), ["2025-05-02 23:00", "2025-05-01 11:00", "2025-04-29 11:00", "2025-04-28 11:00"]);
  for (const s of plan.keep) assert.deepEqual(plan.reasons[s.name], ["daily within 7d"]);
  assert.equal(plan.prune.length, 7);
  // 2025-04-25 23:00 is exactly 7 days before the newest: "within" is strictly newer.
  assert.ok(labels(plan.prune).includes("2025-04-25 23:00"));
});

test("restic docs: one backup a day for 100 years with --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --keep-yearly 75", () => {
  const snaps = [];
  const end = Date.UTC(2025, 4, 2, 12); // a Friday
  for (let i = 0; i < 36525; i++) {
    const time = new Date(end - i * 86_400_000);
    snaps.push({ name: formatSnapshotName(time, true), time });
  }
  const plan = planRetention(snaps, { daily: 7, weekly: 5, monthly: 12, yearly: 75 }, { now: NOW });
  const day = (t: Date) => t.toISOString().slice(0, 10);
  const only = (reason: string) => plan.keep.filter((s) => plan.reasons[s.name]!.length === 1 && plan.reasons[s.name]![0] === reason).map((s) => day(s.time));
  const withReason = (reason: string) => plan.keep.filter((s) => plan.reasons[s.name]!.includes(reason)).map((s) => day(s.time));
  assert.deepEqual(withReason("daily snapshot"), ["2025-05-02", "2025-05-01", "2025-04-30", "2025-04-29", "2025-04-28", "2025-04-27", "2025-04-26"]);
  // Five weekly: two fall among the dailies (this Friday, last Sunday), the other three are Sundays.
  assert.deepEqual(withReason("weekly snapshot"), ["2025-05-02", "2025-04-27", "2025-04-20", "2025-04-13", "2025-04-06"]);
  // Twelve monthly: the newest, then month ends; two coincide with dailies, so ten extra.
  assert.deepEqual(withReason("monthly snapshot"), [
    "2025-05-02", "2025-04-30", "2025-03-31", "2025-02-28", "2025-01-31", "2024-12-31",
    "2024-11-30", "2024-10-31", "2024-09-30", "2024-08-31", "2024-07-31", "2024-06-30",
  ]);
  assert.equal(only("monthly snapshot").length, 9); // 2024-12-31 is also yearly
  // 75 yearly: 2025 (the newest) and the 31 Decembers of 2024 back to 1951; 73 are yearly-only.
  const yearly = withReason("yearly snapshot");
  assert.equal(yearly.length, 75);
  assert.equal(yearly[0], "2025-05-02");
  assert.equal(yearly.at(-1), "1951-12-31");
  assert.ok(yearly.slice(1).every((d) => d.endsWith("-12-31")));
  assert.equal(only("yearly snapshot").length, 73);
  assert.equal(plan.keep.length, 7 + 3 + 10 + 73);
  assert.equal(plan.keep.length + plan.prune.length, 36525);
});

test("a snapshot satisfying several rules is kept once with every reason", () => {
  const plan = planRetention(DOCS_EXAMPLE, { last: 1, daily: 2, weekly: 2, monthly: 1, yearly: 1, within: "1d" }, { now: NOW });
  assert.deepEqual(plan.reasons[DOCS_EXAMPLE.at(-1)!.name], ["within 1d", "last snapshot", "daily snapshot", "weekly snapshot", "monthly snapshot", "yearly snapshot"]);
  // weekly 2: 2025-05-02 (W18), then the newest of W17 = 2025-04-25 23:00.
  assert.deepEqual(labels(plan.keep), ["2025-05-02 23:00", "2025-05-02 11:00", "2025-05-01 11:00", "2025-04-25 23:00"]);
  assert.deepEqual(plan.reasons[snap("2025-05-02 11:00").name], ["within 1d"]);
  assert.deepEqual(plan.reasons[snap("2025-04-25 23:00").name], ["weekly snapshot"]);
});

test("a rule with count left keeps the oldest snapshot too, marked oldest", () => {
  // monthly 5 over two months: April's newest and, because count is left, April's oldest.
  const plan = planRetention(DOCS_EXAMPLE, { monthly: 5 }, { now: NOW });
  assert.deepEqual(labels(plan.keep), ["2025-05-02 23:00", "2025-04-29 11:00", "2025-04-21 11:00"]);
  assert.deepEqual(plan.reasons[snap("2025-04-21 11:00").name], ["oldest monthly snapshot"]);
  // ...but not when the count ran out first.
  const used = planRetention(DOCS_EXAMPLE, { monthly: 2 }, { now: NOW });
  assert.deepEqual(labels(used.keep), ["2025-05-02 23:00", "2025-04-29 11:00"]);
  // ...and with the oldest in a bucket of its own it is a plain keep.
  const own = planRetention(DOCS_EXAMPLE, { daily: 100 }, { now: NOW });
  assert.deepEqual(own.reasons[snap("2025-04-21 11:00").name], ["daily snapshot"]);
  // within rules do the same, if the oldest is within the range.
  const within = planRetention(DOCS_EXAMPLE, { withinWeekly: "1y" }, { now: NOW });
  assert.deepEqual(labels(within.keep), ["2025-05-02 23:00", "2025-04-25 23:00", "2025-04-21 11:00"]);
  assert.deepEqual(within.reasons[snap("2025-04-21 11:00").name], ["oldest weekly within 1y"]);
});

test("a bucket count is used only when the bucket changes", () => {
  // Four snapshots in one hour, then one an hour earlier: hourly 2 keeps the newest of each hour.
  const snaps = ["2024-06-01 10:59:59", "2024-06-01 10:30", "2024-06-01 10:00:01", "2024-06-01 10:00", "2024-06-01 09:59:59"].map(snap);
  const plan = planRetention(snaps, { hourly: 2 }, { now: NOW });
  assert.deepEqual(labels(plan.keep), ["2024-06-01 10:59:59", "2024-06-01 09:59:59"]);
});

test("ties within one second: the -1 suffix is newer, and listing order does not matter", () => {
  const a = snap("2024-03-03 03:03:03");
  const b = snap("2024-03-03 03:03:03 #1");
  const c = snap("2024-03-03 03:03:03 #2");
  assert.equal(b.name, "backup-20240303T030303Z-1.tar.gz");
  for (const order of [[a, b, c], [c, b, a], [b, a, c]]) {
    const plan = planRetention(order, 1, { now: NOW });
    assert.deepEqual(labels(plan.keep), ["2024-03-03 03:03:03 #2"]);
    assert.deepEqual(labels(plan.prune), ["2024-03-03 03:03:03 #1", "2024-03-03 03:03:03"]);
  }
  // Without a sequence field the suffix is read from the name.
  const bare = [a, c, b].map(({ name, time }) => ({ name, time }));
  assert.equal(planRetention(bare, { last: 2 }, { now: NOW }).keep.map((s) => s.name).join(), `${c.name},${b.name}`);
  // Same second, same sequence (encrypted and plain): deterministic whatever the order.
  const enc = { name: formatSnapshotName(a.time, true), time: a.time };
  const plain = { name: formatSnapshotName(a.time, false), time: a.time };
  assert.equal(planRetention([enc, plain], 1, { now: NOW }).keep[0]!.name, planRetention([plain, enc], 1, { now: NOW }).keep[0]!.name);
});

test("exactly one snapshot is kept by every non-empty policy", () => {
  const one = [snap("2022-02-02 02:02")];
  for (const policy of [1, 0, { daily: 1 }, { weekly: 3 }, { monthly: -1 }, { yearly: 1 }, { within: "1h" }, { withinDaily: "1d" }, { hourly: 1 }]) {
    const plan = planRetention(one, policy, { now: NOW });
    assert.equal(plan.keep.length, 1, JSON.stringify(policy));
    assert.equal(plan.prune.length, 0);
  }
  assert.deepEqual(planRetention(one, { daily: 3 }, { now: NOW }).reasons[one[0]!.name], ["daily snapshot"]);
  assert.deepEqual(planRetention(one, { within: "1h" }, { now: NOW }).reasons[one[0]!.name], ["within 1h"]);
});

test("no snapshots: empty plan (the policy is still validated)", () => {
  const plan = planRetention([], { daily: 7 });
  assert.deepEqual(plan, { keep: [], prune: [], reasons: {} });
  assert.throws(() => planRetention([], {}), (e: unknown) => isWorkspaceSyncError(e, "CONFIG_INVALID"));
});

test("ISO weeks: 2020-12-31 and 2021-01-01 (and 2021-01-03) are all 2020-W53", () => {
  assert.deepEqual(isoWeek(new Date(Date.UTC(2020, 11, 31, 23, 59))), { year: 2020, week: 53 });
  assert.deepEqual(isoWeek(new Date(Date.UTC(2021, 0, 1))), { year: 2020, week: 53 });
  assert.deepEqual(isoWeek(new Date(Date.UTC(2021, 0, 3, 23, 59, 59))), { year: 2020, week: 53 });
  assert.deepEqual(isoWeek(new Date(Date.UTC(2021, 0, 4))), { year: 2021, week: 1 });
  assert.deepEqual(isoWeek(new Date(Date.UTC(2024, 11, 30))), { year: 2025, week: 1 }); // Monday of 2025-W01
  assert.deepEqual(isoWeek(new Date(Date.UTC(2026, 0, 1))), { year: 2026, week: 1 });
  assert.deepEqual(isoWeek(new Date(Date.UTC(2027, 0, 1))), { year: 2026, week: 53 });
  assert.equal(isoWeekKey(new Date(Date.UTC(2021, 0, 1))), 202053);

  const snaps = ["2021-01-04 00:00", "2021-01-01 00:00", "2020-12-31 12:00", "2020-12-28 00:00", "2020-12-27 23:59:59"].map(snap);
  const plan = planRetention(snaps, { weekly: 2 }, { now: NOW });
  // weekly 2: 2021-W01, then the newest of 2020-W53 (2021-01-01), which spans both years.
  assert.deepEqual(labels(plan.keep), ["2021-01-04 00:00", "2021-01-01 00:00"]);
  // The yearly rule, in contrast, splits them.
  assert.deepEqual(labels(planRetention(snaps, { yearly: 2 }, { now: NOW }).keep), ["2021-01-04 00:00", "2020-12-31 12:00"]);
});

test("month and year buckets are UTC whatever process.env.TZ says", () => {
  const snaps = [
    "2024-01-01 00:30", // local Dec 31 west of UTC
    "2023-12-31 23:30", // local Jan 1 east of UTC
    "2023-12-01 00:00",
    "2023-11-30 23:00",
    "2023-11-30 05:00",
  ].map(snap);
  const saved = process.env.TZ;
  try {
    for (const tz of ["UTC", "America/New_York", "Pacific/Kiritimati", "Asia/Kolkata", "Pacific/Pago_Pago"]) {
      process.env.TZ = tz;
      const monthly = planRetention(snaps, { monthly: 3 }, { now: NOW });
      assert.deepEqual(labels(monthly.keep), ["2024-01-01 00:30", "2023-12-31 23:30", "2023-11-30 23:00"], tz);
      const yearly = planRetention(snaps, { yearly: 2 }, { now: NOW });
      assert.deepEqual(labels(yearly.keep), ["2024-01-01 00:30", "2023-12-31 23:30"], tz);
      const daily = planRetention(snaps, { daily: 2 }, { now: NOW });
      assert.deepEqual(labels(daily.keep), ["2024-01-01 00:30", "2023-12-31 23:30"], tz);
      const hourly = planRetention(snaps, { hourly: -1 }, { now: NOW });
      assert.equal(hourly.keep.length, 5, tz);
    }
    // The zone change really took effect (so the loop above did test other zones).
    process.env.TZ = "Pacific/Kiritimati";
    assert.equal(new Date(Date.UTC(2023, 11, 31, 23, 30)).getFullYear(), 2024);
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test("within is measured from the newest snapshot, not from now", () => {
  const snaps = ["2019-06-10 12:00", "2019-06-09 12:00:01", "2019-06-09 12:00", "2019-06-03 12:00"].map(snap);
  // Years after the last backup, within 1d still keeps the last day's worth.
  const plan = planRetention(snaps, { within: "1d" }, { now: new Date(Date.UTC(2026, 0, 1)) });
  assert.deepEqual(labels(plan.keep), ["2019-06-10 12:00", "2019-06-09 12:00:01"]);
  assert.deepEqual(plan.reasons[snaps[0]!.name], ["within 1d"]);
  // Hours: 24h is the same boundary; 25h includes the one exactly a day old.
  assert.deepEqual(labels(planRetention(snaps, { within: "24h" }, { now: NOW }).keep), ["2019-06-10 12:00", "2019-06-09 12:00:01"]);
  assert.deepEqual(labels(planRetention(snaps, { within: "25h" }, { now: NOW }).keep), ["2019-06-10 12:00", "2019-06-09 12:00:01", "2019-06-09 12:00"]);
});

test("within uses calendar months and years (restic's AddDate)", () => {
  const at = (iso: string) => new Date(iso);
  const minus = (iso: string, d: string) => new Date(subtractDuration(at(iso), parseRetentionDuration(d))).toISOString();
  // 31 March minus one month is "31 February", normalised to 3 March (2 March in a leap year).
  assert.equal(minus("2021-03-31T10:00:00Z", "1m"), "2021-03-03T10:00:00.000Z");
  assert.equal(minus("2024-03-31T10:00:00Z", "1m"), "2024-03-02T10:00:00.000Z");
  // 29 February minus a year is 1 March.
  assert.equal(minus("2024-02-29T00:00:00Z", "1y"), "2023-03-01T00:00:00.000Z");
  assert.equal(minus("2021-12-22T08:00:00Z", "1y2m3d4h"), "2020-10-19T04:00:00.000Z");
  assert.equal(minus("2021-01-01T02:00:00Z", "3h"), "2020-12-31T23:00:00.000Z");
  assert.equal(minus("2021-01-15T00:00:00Z", "13m"), "2019-12-15T00:00:00.000Z");

  const snaps = ["2021-03-31 10:00", "2021-03-03 10:00:01", "2021-03-03 10:00", "2021-02-28 10:00"].map(snap);
  assert.deepEqual(labels(planRetention(snaps, { within: "1m" }, { now: NOW }).keep), ["2021-03-31 10:00", "2021-03-03 10:00:01"]);
});

test("snapshots in the future are always within, and the reference is the newest one not in the future", () => {
  const now = new Date(Date.UTC(2024, 5, 1, 12));
  const snaps = ["2024-06-05 00:00", "2024-06-01 11:00", "2024-05-31 12:00", "2024-05-30 00:00"].map(snap);
  const plan = planRetention(snaps, { within: "1d" }, { now });
  // Reference = 2024-06-01 11:00 (the future 06-05 is skipped), so 05-31 12:00 is within, 05-30 is not.
  assert.deepEqual(labels(plan.keep), ["2024-06-05 00:00", "2024-06-01 11:00", "2024-05-31 12:00"]);
  // Everything in the future: nothing to measure from, all are within (restic measures from year 1).
  const all = planRetention(snaps, { within: "1d" }, { now: new Date(Date.UTC(2000, 0, 1)) });
  assert.equal(all.keep.length, 4);
});

test("-1 means unlimited", () => {
  const snaps = Array.from({ length: 30 }, (_, i) => snap(`2023-0${1 + (i % 9)}-${String(1 + i).padStart(2, "0")} 06:00`));
  assert.equal(planRetention(snaps, { last: -1 }, { now: NOW }).keep.length, 30);
  assert.equal(planRetention(snaps, -1, { now: NOW }).keep.length, 30);
  const monthly = planRetention(snaps, { monthly: -1 }, { now: NOW });
  // One per month (9 months) plus the oldest, which shares January with a newer one.
  assert.equal(monthly.keep.length, 10);
  assert.deepEqual(monthly.reasons[monthly.keep.at(-1)!.name], ["oldest monthly snapshot"]);
});

test("plugin forms: a number N keeps the N newest; 0 keeps 1", () => {
  const snaps = Array.from({ length: 10 }, (_, i) => snap(`2024-02-${String(10 + i).padStart(2, "0")} 03:00`));
  assert.deepEqual(labels(planRetention(snaps, 3, { now: NOW }).keep), ["2024-02-19 03:00", "2024-02-18 03:00", "2024-02-17 03:00"]);
  assert.deepEqual(labels(planRetention(snaps, 0, { now: NOW }).keep), ["2024-02-19 03:00"]);
  assert.deepEqual(planRetention(snaps, 0, { now: NOW }).reasons[snaps[9]!.name], ["last snapshot"]);
  assert.equal(planRetention(snaps, 7, { now: NOW }).keep.length, 7);
  assert.equal(planRetention(snaps, 50, { now: NOW }).prune.length, 0);
});

test("plugin object form is read literally: a missing daily is not 7", () => {
  // 10 consecutive days in February 2024 (ISO weeks 6, 7, 8).
  const snaps = Array.from({ length: 10 }, (_, i) => snap(`2024-02-${String(10 + i).padStart(2, "0")} 03:00`));
  const plan = planRetention(snaps, { weekly: 2 }, { now: NOW });
  assert.deepEqual(labels(plan.keep), ["2024-02-19 03:00", "2024-02-18 03:00"]);
  const both = planRetention(snaps, { daily: 2, weekly: 2, monthly: 1 }, { now: NOW });
  assert.deepEqual(labels(both.keep), ["2024-02-19 03:00", "2024-02-18 03:00"]);
  assert.deepEqual(both.reasons[snaps[9]!.name], ["daily snapshot", "weekly snapshot", "monthly snapshot"]);
  assert.deepEqual(both.reasons[snaps[8]!.name], ["daily snapshot", "weekly snapshot"]);
});

test("extra fields are carried through and the input is not modified", () => {
  const snaps = ["2024-01-03 00:00", "2024-01-01 00:00", "2024-01-02 00:00"].map((l, i) => ({ ...snap(l), size: i * 100, tag: `t${i}` }));
  const copy = snaps.map((s) => ({ ...s }));
  const plan = planRetention(snaps, 2, { now: NOW });
  assert.deepEqual(snaps, copy);
  assert.equal(plan.keep[0], snaps[0]);
  assert.equal(plan.keep[1]!.tag, "t2");
  assert.equal(plan.prune[0]!.size, 100);
});

test("an invalid time is refused", () => {
  assert.throws(() => planRetention([{ name: "x", time: new Date(Number.NaN) }], 1), (e: unknown) => isWorkspaceSyncError(e, "SNAPSHOT_CORRUPT"));
});

test("snapshot names round-trip into plannable snapshots", () => {
  const names = ["backup-20240101T000000Z.tar.gz.enc", "backup-20240101T000000Z-1.tar.gz.enc", "backup-20231231T235959Z.tar.gz"];
  const infos = names.map((n) => parseSnapshotName(n)!);
  const plan = planRetention(infos, { daily: 2 }, { now: NOW });
  assert.deepEqual(plan.keep.map((s) => s.name), ["backup-20240101T000000Z-1.tar.gz.enc", "backup-20231231T235959Z.tar.gz"]);
  assert.deepEqual(plan.reasons["backup-20231231T235959Z.tar.gz"], ["daily snapshot"]);
  // daily 1 is used up by the newest, so the oldest is not kept as "oldest daily".
  assert.deepEqual(planRetention(infos, { daily: 1 }, { now: NOW }).keep.map((s) => s.name), ["backup-20240101T000000Z-1.tar.gz.enc"]);
});
