import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, WorkspaceSync } from "../src/manager/index.js";
import { failedBackup, fakeBackup, fakeSync, okBackup, okSync, recordingLogger, removeDir, settle, tempDir } from "./manager-helpers.js";

const S = 1000;

test("two instances in one process keep their own timers, counters and status", async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 4, 1));
  const dirA = await tempDir("a");
  const dirB = await tempDir("b");
  const logA = recordingLogger();
  const logB = recordingLogger();
  const backupA = fakeBackup();
  backupA.state.autoResult = failedBackup("A broke");
  const backupB = fakeBackup();
  backupB.state.autoResult = okBackup();
  const syncB = fakeSync();
  syncB.state.autoResult = okSync();
  const a = new WorkspaceSync({
    config: { sync: { provider: "off" }, backup: { enabled: true, provider: "local", local: { root: "/a" }, interval: 300 } },
    workspaceDir: dirA,
    stateDir: dirA,
    logger: logA,
    clock,
    operations: { runBackup: backupA.fn },
  });
  const b = new WorkspaceSync({
    config: { sync: { provider: "local", local: { root: "/b" }, mode: "mirror", interval: 120 }, backup: { enabled: true, provider: "local", local: { root: "/b" }, interval: 900 } },
    workspaceDir: dirB,
    stateDir: dirB,
    logger: logB,
    clock,
    operations: { runBackup: backupB.fn, runSync: syncB.fn },
  });
  t.after(async () => {
    await a.stop();
    await b.stop();
    await removeDir(dirA);
    await removeDir(dirB);
  });
  await a.start();
  await b.start();
  assert.equal(clock.pendingTimers(), 3);
  await clock.advance(30 * S);
  await settle();
  assert.equal(backupA.calls.length, 1);
  assert.equal(backupB.calls.length, 1);
  assert.equal(syncB.calls.length, 1);
  assert.equal(backupA.calls[0]!.params.workspaceDir, dirA);
  assert.equal(backupB.calls[0]!.params.workspaceDir, dirB);

  assert.equal(a.status().backup.errorCount, 1);
  assert.equal(a.status().backup.lastBackupOk, false);
  assert.equal(b.status().backup.errorCount, 0);
  assert.equal(b.status().backup.lastBackupOk, true);
  assert.equal(a.status().sync.running, false);
  assert.equal(b.status().sync.running, true);
  assert.equal(a.status().backup.nextRunAt?.getTime(), clock.now() + 300 * S);
  assert.equal(b.status().backup.nextRunAt?.getTime(), clock.now() + 900 * S);
  assert.ok(logA.text("error").includes("[backup] Scheduled backup failed: A broke"));
  assert.ok(!logB.lines.some((l) => l.message.includes("A broke")), "B's logger never sees A's lines");

  // Stopping A leaves B running.
  await a.stop();
  assert.equal(a.status().running, false);
  assert.equal(b.status().running, true);
  assert.equal(clock.pendingTimers(), 2, "B's backup and sync timers remain");
  await clock.advance(900 * S);
  await settle();
  assert.equal(backupA.calls.length, 1, "A stays stopped");
  assert.equal(backupB.calls.length, 2);
  assert.ok(syncB.calls.length >= 2);
  await b.stop();
  assert.equal(clock.pendingTimers(), 0);
});
