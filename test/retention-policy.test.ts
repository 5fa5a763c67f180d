/** normalizePolicy and durations: config forms, restic's duration syntax, and every refusal. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  normalizePolicy,
  describePolicy,
  isEmptyPolicy,
  parseRetentionDuration,
  formatRetentionDuration,
  type RetentionPolicy,
} from "../src/retention/index.js";
import { WorkspaceSyncError, isWorkspaceSyncError } from "../src/errors.js";
import type { RetainSetting } from "../src/config/types.js";

const NONE = { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 };

function invalid(input: unknown, path: string, fragment: RegExp): void {
  assert.throws(
    () => normalizePolicy(input as RetainSetting),
    (e: unknown) => {
      assert.ok(isWorkspaceSyncError(e, "CONFIG_INVALID"), `expected CONFIG_INVALID for ${JSON.stringify(input)}, got ${String(e)}`);
      assert.equal((e as WorkspaceSyncError).path, path);
      assert.match((e as WorkspaceSyncError).message, fragment);
      assert.ok((e as WorkspaceSyncError).message.startsWith(path), (e as WorkspaceSyncError).message);
      return true;
    },
  );
}

test("numbers: N keeps the N newest, 0 keeps 1, -1 keeps all", () => {
  assert.deepEqual(normalizePolicy(7), { ...NONE, last: 7 });
  assert.deepEqual(normalizePolicy(0), { ...NONE, last: 1 });
  assert.deepEqual(normalizePolicy(1), { ...NONE, last: 1 });
  assert.deepEqual(normalizePolicy(-1), { ...NONE, last: -1 });
});

test("objects are taken literally, with restic's keys", () => {
  assert.deepEqual(normalizePolicy({ weekly: 4 }), { ...NONE, weekly: 4 });
  assert.deepEqual(normalizePolicy({ daily: 7, weekly: 4, monthly: 6 }), { ...NONE, daily: 7, weekly: 4, monthly: 6 });
  assert.deepEqual(normalizePolicy({ yearly: -1, within: "30d", withinDaily: "1y2m3d4h" }), {
    ...NONE,
    yearly: -1,
    within: { years: 0, months: 0, days: 30, hours: 0 },
    withinDaily: { years: 1, months: 2, days: 3, hours: 4 },
  });
  // A zero rule next to a real one is simply off.
  assert.deepEqual(normalizePolicy({ daily: 0, weekly: 2, within: "0d" }), { ...NONE, weekly: 2 });
});

test("a normalised policy normalises to itself", () => {
  const p = normalizePolicy({ hourly: 24, withinMonthly: "2y", within: "36h" });
  assert.deepEqual(normalizePolicy(p), p);
});

test("an empty policy is refused, never read as delete-all or keep-all", () => {
  for (const empty of [{}, { daily: 0 }, { last: 0, weekly: 0, within: "" }, { within: "0y0m0d0h" }, { withinDaily: "0d" }]) {
    invalid(empty, "backup.retain", /^backup\.retain is empty: set e\.g\. \{ "daily": 7 \} or a number$/);
  }
  assert.equal(isEmptyPolicy({ ...NONE } as RetentionPolicy), true);
  assert.equal(isEmptyPolicy(normalizePolicy(1)), false);
});

test("negative counts other than -1, fractions and non-numbers are refused naming the key", () => {
  invalid({ daily: -2 }, "backup.retain.daily", /-2.*-1 \(unlimited\)/);
  invalid({ weekly: 1.5 }, "backup.retain.weekly", /whole number/);
  invalid({ monthly: "6" }, "backup.retain.monthly", /whole number.*"6"/);
  invalid({ yearly: null }, "backup.retain.yearly", /whole number.*null/);
  invalid({ last: Number.NaN }, "backup.retain.last", /whole number/);
  invalid(-2, "backup.retain", /-2/);
  invalid(2.5, "backup.retain", /whole number/);
  invalid(Number.POSITIVE_INFINITY, "backup.retain", /whole number/);
});

test("unknown keys and wrong shapes are refused", () => {
  invalid({ dayly: 7 }, "backup.retain.dayly", /not a retention rule: use last, hourly, daily/);
  invalid({ keepDaily: 7, daily: 1 }, "backup.retain.keepDaily", /not a retention rule/);
  invalid("7", "backup.retain", /number of snapshots or a policy object, got "7"/);
  invalid(null, "backup.retain", /got null/);
  invalid([7], "backup.retain", /got an array/);
  invalid(undefined, "backup.retain", /got undefined/);
});

test("malformed or negative durations are refused naming the key", () => {
  invalid({ within: "7" }, "backup.retain.within", /no unit after 7/);
  invalid({ withinDaily: "1w" }, "backup.retain.withinDaily", /unknown unit "w".*"7d"/);
  invalid({ withinWeekly: "d" }, "backup.retain.withinWeekly", /no number/);
  invalid({ withinMonthly: "7d 3h" }, "backup.retain.withinMonthly", /no number/);
  invalid({ withinYearly: "1Y" }, "backup.retain.withinYearly", /unknown unit "Y"/);
  invalid({ withinHourly: "-3d" }, "backup.retain.withinHourly", /negative/);
  invalid({ within: "1d-3h" }, "backup.retain.within", /negative/);
  invalid({ within: 7 }, "backup.retain.within", /duration string/);
  invalid({ within: "99999999y" }, "backup.retain.within", /too large/);
});

test("duration syntax follows restic: y m d h, any order, whitespace trimmed, repeats replace", () => {
  assert.deepEqual(parseRetentionDuration("1y2m3d4h"), { years: 1, months: 2, days: 3, hours: 4 });
  assert.deepEqual(parseRetentionDuration("4h3d"), { years: 0, months: 0, days: 3, hours: 4 });
  assert.deepEqual(parseRetentionDuration("  36h "), { years: 0, months: 0, days: 0, hours: 36 });
  assert.deepEqual(parseRetentionDuration("1d2d"), { years: 0, months: 0, days: 2, hours: 0 });
  assert.deepEqual(parseRetentionDuration(""), { years: 0, months: 0, days: 0, hours: 0 });
  assert.equal(formatRetentionDuration(parseRetentionDuration("0y7d")), "7d");
  assert.equal(formatRetentionDuration(parseRetentionDuration("4h3d1y")), "1y3d4h");
  assert.throws(() => parseRetentionDuration("5x", "backup.retain.withinDaily"), /backup\.retain\.withinDaily "5x" is not a valid duration/);
});

test("describePolicy speaks restic's words", () => {
  assert.equal(describePolicy(normalizePolicy({ daily: 7, weekly: 4, yearly: -1 })), "keep 7 daily, 4 weekly, all yearly snapshots");
  assert.equal(describePolicy(normalizePolicy(3)), "keep 3 latest snapshots");
  assert.equal(
    describePolicy(normalizePolicy({ withinDaily: "7d", within: "2d", monthly: 6 })),
    "keep 6 monthly snapshots, daily snapshots within 7d and all snapshots within 2d of the newest",
  );
});
