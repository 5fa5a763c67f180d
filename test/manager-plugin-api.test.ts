import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { listInbox, moveFromInbox } from "../src/inbox/index.js";
import {
  ManualClock,
  getBackupManagerStatus,
  startBackupManager,
  stopBackupManager,
  WorkspaceSync,
  getSyncManagerStatus,
  getDefaultWorkspaceSync,
  startSyncManager,
  stopSyncManager,
  triggerImmediateSync,
} from "../src/manager/index.js";
import { fakeSync, okSync, recordingLogger, removeDir, settle, tempDir } from "./manager-helpers.js";

const S = 1000;

test("plugin-shaped sync manager: start, status, trigger, stop; a restart starts counting from zero", async (t) => {
  const dir = await tempDir("plugin");
  t.after(() => removeDir(dir));
  const clock = new ManualClock(Date.UTC(2026, 7, 1));
  const log = recordingLogger();
  const fake = fakeSync();
  fake.state.autoResult = okSync();
  const config = { sync: { provider: "local", local: { root: path.join(dir, "bucket") }, mode: "mailbox", interval: 300 } };
  assert.deepEqual(getSyncManagerStatus(), { running: false, lastSyncAt: null, lastSyncOk: null, syncCount: 0, errorCount: 0 });
  await startSyncManager(config, dir, dir, log, { clock, operations: { runSync: fake.fn } });
  t.after(() => stopSyncManager());
  assert.equal(getSyncManagerStatus().running, true);
  await clock.advance(5 * S);
  await settle();
  assert.equal(fake.calls.length, 1);
  const r = await triggerImmediateSync();
  assert.equal(r?.ok, true);
  assert.deepEqual(getSyncManagerStatus(), { running: true, lastSyncAt: new Date(clock.now()), lastSyncOk: true, syncCount: 2, errorCount: 0 });

  // A busy manager: triggerImmediateSync skips like the plugin.
  fake.state.autoResult = undefined;
  const slow = getDefaultWorkspaceSync()!.syncNow();
  await settle();
  assert.equal(await triggerImmediateSync(), undefined);
  assert.ok(log.text("info").includes("[workspace-sync] Sync already in progress, skipping this cycle"));
  fake.calls.at(-1)!.resolve(okSync());
  await slow;

  await stopSyncManager();
  assert.equal(clock.pendingTimers(), 0);
  assert.equal(getSyncManagerStatus().running, false);
  assert.equal(getSyncManagerStatus().syncCount, 3, "stop keeps the counters");
  await startSyncManager(config, dir, dir, log, { clock, operations: { runSync: fake.fn } });
  assert.equal(getSyncManagerStatus().syncCount, 0, "a restart does not carry the old counters (the plugin leaked them)");
  await stopSyncManager();
});

test("real mailbox sync through the manager: the drain fills _inbox, the host is notified, the inbox helper moves the file", async (t) => {
  const root = await tempDir("mailbox");
  t.after(() => removeDir(root));
  const workspace = path.join(root, "ws");
  const bucket = path.join(root, "bucket");
  await fsp.mkdir(path.join(workspace, "docs"), { recursive: true });
  await fsp.writeFile(path.join(workspace, "docs", "plan.md"), "plan\n");
  await fsp.mkdir(path.join(bucket, "share", "_outbox"), { recursive: true });
  await fsp.writeFile(path.join(bucket, "share", "_outbox", "report.pdf"), "%PDF-1.4 fake\n");
  const log = recordingLogger();
  const notified: [string[], string][] = [];
  const ws = new WorkspaceSync({
    config: { sync: { provider: "local", local: { root: bucket }, remotePath: "share", mode: "mailbox", notifyOnInbox: true, onSessionStart: true } },
    workspaceDir: workspace,
    stateDir: path.join(root, "state"),
    logger: log,
    onInboxFiles: (files, text) => void notified.push([files, text]),
  });
  t.after(() => ws.stop());
  const out = await ws.onSessionStart();
  assert.equal(out.ran, true);
  assert.ok(out.ran && out.result.ok, log.text().join("\n"));
  assert.deepEqual(notified, [[["report.pdf"], "[workspace-sync] New files in _inbox: report.pdf"]]);
  assert.equal(await fsp.readFile(path.join(workspace, "_inbox", "report.pdf"), "utf8"), "%PDF-1.4 fake\n");
  assert.equal(await fsp.readFile(path.join(bucket, "share", "docs", "plan.md"), "utf8"), "plan\n", "the push ran too");

  const listing = await listInbox({ workspaceDir: workspace });
  assert.deepEqual(listing.entries.map((e) => [e.name, e.type]), [["report.pdf", "file"]]);
  assert.deepEqual(listing.workspaceDirectories, ["docs"]);
  const moved = await moveFromInbox({ workspaceDir: workspace, target: "docs", files: ["report.pdf"] });
  assert.deepEqual(moved, { moved: ["report.pdf → docs/report.pdf"], errors: [], remaining: [] });
});

test("an invalid config makes the constructor throw a typed error; the plugin-shaped start logs it instead", async (t) => {
  const dir = await tempDir("bad");
  t.after(() => removeDir(dir));
  const bad = { sync: { provider: "local", mode: "sideways" } };
  assert.throws(() => new WorkspaceSync({ config: bad, workspaceDir: dir, stateDir: dir }), (e: Error & { code?: string }) => typeof e.code === "string" && e.code.startsWith("CONFIG_"));
  const log = recordingLogger();
  await startSyncManager(bad, dir, dir, log);
  assert.equal(log.text("error").length, 1);
  assert.equal(getSyncManagerStatus().running, false);
});

test("plugin service flow: both managers share the default instance and stop independently", async (t) => {
  const dir = await tempDir("service");
  t.after(() => removeDir(dir));
  const clock = new ManualClock(Date.UTC(2026, 7, 2));
  const log = recordingLogger();
  const fake = fakeSync();
  fake.state.autoResult = okSync();
  const extras = { clock, operations: { runSync: fake.fn } };
  const config = {
    sync: { provider: "local", local: { root: path.join(dir, "bucket") }, mode: "mirror", interval: 600 },
    backup: { enabled: true, provider: "local", local: { root: path.join(dir, "bucket") }, interval: 7200 },
  };
  await startSyncManager(config, dir, dir, log, { onInboxFiles: () => undefined, ...extras });
  const instance = getDefaultWorkspaceSync();
  await startBackupManager(config, dir, dir, log, extras);
  t.after(async () => {
    await stopSyncManager();
    await stopBackupManager();
  });
  assert.equal(getDefaultWorkspaceSync(), instance, "same arguments: same instance");
  assert.equal(getSyncManagerStatus().running, true);
  assert.equal(getBackupManagerStatus().running, true);
  assert.equal(clock.pendingTimers(), 2);
  await stopSyncManager();
  assert.equal(getSyncManagerStatus().running, false);
  assert.equal(getBackupManagerStatus().running, true, "stopping sync leaves backups scheduled");
  assert.equal(clock.pendingTimers(), 1);
  await stopBackupManager();
  assert.equal(getBackupManagerStatus().running, false);
  assert.equal(clock.pendingTimers(), 0);
});

test("restarting the sync manager with other config objects leaves the backup manager running", async (t) => {
  const dir = await tempDir("plugin-two");
  t.after(() => removeDir(dir));
  const clock = new ManualClock(Date.UTC(2026, 7, 1));
  const log = recordingLogger();
  const fake = fakeSync();
  fake.state.autoResult = okSync();
  const make = () => ({
    sync: { provider: "local", local: { root: path.join(dir, "bucket") }, mode: "mailbox", interval: 300 },
    backup: { enabled: true, provider: "local", local: { root: path.join(dir, "bucket") }, interval: 3600 },
  });
  await startBackupManager(make(), dir, dir, log, { clock, operations: { runSync: fake.fn } });
  t.after(() => stopBackupManager());
  await startSyncManager(make(), dir, dir, log, { clock, operations: { runSync: fake.fn } });
  t.after(() => stopSyncManager());
  assert.equal(getBackupManagerStatus().running, true, "a second, equal config object does not stop backups");
  assert.equal(getSyncManagerStatus().running, true);
  await startSyncManager(make(), dir, dir, log, { clock, operations: { runSync: fake.fn } });
  assert.equal(getBackupManagerStatus().running, true);
  await stopSyncManager();
  assert.equal(getBackupManagerStatus().running, true, "stopping sync leaves backups scheduled");
  await stopBackupManager();
  assert.equal(getBackupManagerStatus().running, false);
});
