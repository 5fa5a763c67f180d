import { test } from "node:test";
import assert from "node:assert/strict";
import { BACKUP_START_DELAY_MS, clampWarning, decideInterval, firstBackupDelay, ManualClock } from "../src/manager/index.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

test("decideInterval: off, default, clamped, kept", () => {
  const cases: [number | undefined, number, number, ReturnType<typeof decideInterval>][] = [
    [0, 86400, 300, { enabled: false, configured: 0 }],
    [-5, 86400, 300, { enabled: false, configured: -5 }],
    [Number.NaN, 86400, 300, { enabled: false, configured: Number.NaN }],
    [undefined, 86400, 300, { enabled: true, configured: 86400, seconds: 86400, clamped: false }],
    [60, 86400, 300, { enabled: true, configured: 60, seconds: 300, clamped: true }],
    [300, 86400, 300, { enabled: true, configured: 300, seconds: 300, clamped: false }],
    [10, 0, 60, { enabled: true, configured: 10, seconds: 60, clamped: true }],
    [undefined, 0, 60, { enabled: false, configured: 0 }],
    [3600, 0, 60, { enabled: true, configured: 3600, seconds: 3600, clamped: false }],
  ];
  for (const [configured, fallback, min, expected] of cases) {
    assert.deepEqual(decideInterval(configured, fallback, min), expected, `decideInterval(${configured}, ${fallback}, ${min})`);
  }
});

test("clampWarning uses the plugin's wording", () => {
  const d = decideInterval(60, 86400, 300);
  assert.ok(d.enabled);
  assert.equal(clampWarning(d), "Interval increased from 60s to 300s (minimum)");
});

test("firstBackupDelay: no record → start delay; due later → wait; overdue → start delay; future → at most one interval", () => {
  const now = Date.UTC(2026, 5, 1, 12);
  assert.equal(firstBackupDelay({ now, intervalMs: DAY }), BACKUP_START_DELAY_MS);
  assert.equal(firstBackupDelay({ now, intervalMs: DAY, lastSuccessAt: "not a date" }), BACKUP_START_DELAY_MS);
  assert.equal(firstBackupDelay({ now, intervalMs: DAY, lastSuccessAt: new Date(now - HOUR).toISOString() }), DAY - HOUR);
  assert.equal(firstBackupDelay({ now, intervalMs: DAY, lastSuccessAt: now - 3 * DAY }), BACKUP_START_DELAY_MS);
  assert.equal(firstBackupDelay({ now, intervalMs: DAY, lastSuccessAt: new Date(now - DAY + 10_000) }), BACKUP_START_DELAY_MS);
  assert.equal(firstBackupDelay({ now, intervalMs: DAY, lastSuccessAt: now + 5 * DAY }), DAY);
  assert.equal(firstBackupDelay({ now, intervalMs: DAY, lastSuccessAt: now, startDelayMs: 0 }), DAY);
});

test("ManualClock fires due timers in order, including ones armed by a fired timer", async () => {
  const clock = new ManualClock(0);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b@20"), 20);
  clock.setTimeout(() => {
    fired.push("a@10");
    clock.setTimeout(() => fired.push("c@15"), 5);
  }, 10);
  const cancelled = clock.setTimeout(() => fired.push("never"), 12);
  clock.clearTimeout(cancelled);
  assert.equal(clock.pendingTimers(), 2);
  await clock.advance(15);
  assert.deepEqual(fired, ["a@10", "c@15"]);
  assert.equal(clock.now(), 15);
  await clock.advance(100);
  assert.deepEqual(fired, ["a@10", "c@15", "b@20"]);
  assert.equal(clock.pendingTimers(), 0);
});

test("systemClock chains delays longer than Node's timer limit (~24.8 days) and can cancel mid-chain", async (t) => {
  const { mock } = await import("node:test");
  const { systemClock } = await import("../src/manager/index.js");
  mock.timers.enable({ apis: ["setTimeout"] });
  t.after(() => mock.timers.reset());
  const limit = 2 ** 31 - 1;
  let fired = 0;
  systemClock.setTimeout(() => fired++, limit + 5000);
  mock.timers.tick(limit);
  assert.equal(fired, 0, "a plain setTimeout would have fired after 1 ms");
  mock.timers.tick(4999);
  assert.equal(fired, 0);
  mock.timers.tick(1);
  assert.equal(fired, 1);
  let cancelledFired = 0;
  const h = systemClock.setTimeout(() => cancelledFired++, limit + 5000);
  mock.timers.tick(limit + 10);
  systemClock.clearTimeout(h);
  mock.timers.tick(10_000);
  assert.equal(cancelledFired, 0);
});
