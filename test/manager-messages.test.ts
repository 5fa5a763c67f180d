/**
 * The manager's run policy (verdict.ts) and its wording (messages.ts), each on its own: what a
 * finished run counts as, and the exact line each note becomes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { judgeRun } from "../src/manager/verdict.js";
import { formatNote, logNote, type ManagerNote } from "../src/manager/messages.js";
import { decideInterval } from "../src/manager/schedule.js";

test("judgeRun: cancelled runs are neither counted nor reported; dry runs are not counted; failures are reported", () => {
  const ok = { ok: true } as const;
  const failed = { ok: false, code: "SNAPSHOT_NOT_FOUND" } as const;
  const aborted = { ok: false, code: "ABORTED" } as const;
  assert.deepEqual(judgeRun(ok, false), { outcome: "ok", counted: true, reportError: false });
  assert.deepEqual(judgeRun(failed, false), { outcome: "failed", counted: true, reportError: true });
  assert.deepEqual(judgeRun(aborted, false), { outcome: "cancelled", counted: false, reportError: false });
  assert.deepEqual(judgeRun(failed, true), { outcome: "cancelled", counted: false, reportError: false }, "a failure after stop() is a cancellation");
  assert.deepEqual(judgeRun(ok, true), { outcome: "ok", counted: true, reportError: false }, "a run that finished despite the abort counts");
  assert.deepEqual(judgeRun(failed, false, true), { outcome: "failed", counted: false, reportError: false });
  assert.deepEqual(judgeRun(aborted, false, true).outcome, "cancelled");
});

test("formatNote words backup runs by trigger and outcome", () => {
  const done = (n: Partial<ManagerNote & { kind: "backup-finished" }>) => formatNote({ kind: "backup-finished", trigger: "scheduled", outcome: "ok", ...n } as ManagerNote);
  assert.deepEqual(done({ snapshotName: "backup-x.tar.gz", sizeBytes: 1024 * 1024 }), { level: "info", text: "[backup] Scheduled backup complete: backup-x.tar.gz (1.0 MB)" });
  assert.deepEqual(done({ trigger: "manual", outcome: "failed", error: "bucket gone" }), { level: "error", text: "[backup] Backup failed: bucket gone" });
  assert.deepEqual(done({ outcome: "cancelled" }), { level: "info", text: "[backup] Scheduled backup cancelled" });
});

test("formatNote: only scheduled, real syncs log their end; a cancellation always does", () => {
  const done = (n: Partial<ManagerNote & { kind: "sync-finished" }>) => formatNote({ kind: "sync-finished", trigger: "scheduled", dryRun: false, outcome: "ok", mode: "mailbox", ...n } as ManagerNote);
  assert.deepEqual(done({}), { level: "info", text: "[workspace-sync] Periodic mailbox completed" });
  assert.deepEqual(done({ outcome: "failed", error: "cloud said no" }), { level: "warn", text: "[workspace-sync] Periodic sync failed: cloud said no" });
  assert.equal(done({ trigger: "manual" }), undefined);
  assert.equal(done({ trigger: "session-start", outcome: "failed", error: "x" }), undefined, "the session hook logs its own line");
  assert.equal(done({ dryRun: true }), undefined);
  assert.deepEqual(done({ trigger: "manual", dryRun: true, outcome: "cancelled" }), { level: "info", text: "[workspace-sync] Sync cancelled" });
});

test("formatNote: schedule lines carry their part's prefix; logNote routes by level", () => {
  const d = decideInterval(10, 0, 60);
  assert.ok(d.enabled);
  assert.equal(formatNote({ kind: "interval-clamped", part: "sync", decision: d })?.text, "[workspace-sync] Interval increased from 10s to 60s (minimum)");
  assert.equal(formatNote({ kind: "schedule-started", part: "backup", seconds: 300 })?.text, "[backup] Backup service started — every 300s");
  assert.equal(formatNote({ kind: "schedule-off", part: "sync" })?.text, "[workspace-sync] Periodic sync disabled (interval=0)");
  assert.equal(formatNote({ kind: "stop-timeout", timeoutMs: 10_000 })?.text.includes("within 10s"), true);
  const seen: string[] = [];
  const logger = { info: (m: string) => seen.push(`info ${m}`), warn: (m: string) => seen.push(`warn ${m}`), error: (m: string) => seen.push(`error ${m}`) };
  logNote(logger, { kind: "session-disabled", side: "start" }); // debug: this logger has none
  logNote(logger, { kind: "session-no-mode", side: "end" });
  logNote(logger, { kind: "sync-finished", trigger: "manual", dryRun: false, outcome: "ok", mode: "mirror" }); // not logged
  logNote(logger, { kind: "unexpected-error", part: "backup", error: "kaboom" });
  assert.deepEqual(seen, ["warn [workspace-sync] mode not set, skipping session end sync", "error [backup] Unexpected error: kaboom"]);
});
