import { test } from "node:test";
import assert from "node:assert/strict";
import { readBackupState } from "../src/backup/state.js";
import { recordRun } from "../src/state/last-run.js";
import { ManualClock, WorkspaceSync, startBackupManager, stopBackupManager, getBackupManagerStatus } from "../src/manager/index.js";
import { fakeBackup, fakeSync, failedBackup, okBackup, okSync, recordingLogger, removeDir, settle, tempDir } from "./manager-helpers.js";

const S = 1000;
const HOUR = 3600 * S;
const DAY = 24 * HOUR;

interface Setup {
  clock: ManualClock;
  dir: string;
  log: ReturnType<typeof recordingLogger>;
  backup: ReturnType<typeof fakeBackup>;
  sync: ReturnType<typeof fakeSync>;
  make(config: Record<string, unknown>, extra?: { stateDir?: string }): WorkspaceSync;
}

async function setup(t: { after(fn: () => Promise<void>): void }): Promise<Setup> {
  const dir = await tempDir("sched");
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 8));
  const log = recordingLogger();
  const backup = fakeBackup();
  const sync = fakeSync();
  const instances: WorkspaceSync[] = [];
  t.after(async () => {
    for (const i of instances) await i.stop();
    await removeDir(dir);
  });
  return {
    clock,
    dir,
    log,
    backup,
    sync,
    make(config, extra = {}) {
      const ws = new WorkspaceSync({
        config,
        workspaceDir: dir,
        stateDir: extra.stateDir ?? dir,
        logger: log,
        clock,
        operations: { runBackup: backup.fn, runSync: sync.fn },
      });
      instances.push(ws);
      return ws;
    },
  };
}

const backupConfig = (backup: Record<string, unknown>, sync: Record<string, unknown> = { provider: "off" }) => ({
  sync,
  backup: { enabled: true, provider: "local", local: { root: "/nonexistent-bucket" }, ...backup },
});
const syncConfig = (sync: Record<string, unknown>) => ({ sync: { provider: "local", local: { root: "/nonexistent-bucket" }, mode: "mailbox", ...sync } });

test("backup interval below 300 s is clamped with a warning; first run after 30 s, next one interval after it ended", async (t) => {
  const s = await setup(t);
  s.backup.state.autoResult = okBackup();
  const ws = s.make(backupConfig({ interval: 60 }));
  await ws.start();
  assert.ok(s.log.text("warn").includes("[backup] Interval increased from 60s to 300s (minimum)"), s.log.text("warn").join("\n"));
  assert.ok(s.log.text("info").includes("[backup] Backup service started — every 300s"));
  assert.deepEqual(s.clock.pendingDelays(), [30 * S]);
  await s.clock.advance(30 * S - 1);
  assert.equal(s.backup.calls.length, 0);
  await s.clock.advance(1);
  await settle();
  assert.equal(s.backup.calls.length, 1);
  assert.deepEqual(s.clock.pendingDelays(), [300 * S], "next run one clamped interval after the first ended");
  await s.clock.advance(300 * S);
  await settle();
  assert.equal(s.backup.calls.length, 2);
  const st = ws.status().backup;
  assert.equal(st.running, true);
  assert.equal(st.backupCount, 2);
  assert.equal(st.lastBackupOk, true);
  assert.equal(st.errorCount, 0);
  assert.ok(s.log.text("info").includes("[backup] Scheduled backup complete: backup-20260101T000000Z.tar.gz (1.0 MB)"));
});

test("backup interval 0 schedules nothing and says so", async (t) => {
  const s = await setup(t);
  const ws = s.make(backupConfig({ interval: 0 }));
  await ws.start();
  assert.ok(s.log.text("info").includes("[backup] Scheduled backups disabled (interval=0)"));
  assert.equal(s.clock.pendingTimers(), 0);
  assert.equal(ws.status().backup.running, false);
  await s.clock.advance(10 * DAY);
  assert.equal(s.backup.calls.length, 0);
});

test("backup.enabled false schedules nothing", async (t) => {
  const s = await setup(t);
  const ws = s.make(backupConfig({ enabled: false, interval: 600 }));
  await ws.start();
  assert.equal(s.clock.pendingTimers(), 0);
  assert.equal(ws.status().running, false);
});

test("sync interval below 60 s is clamped with a warning; 0 means manual only", async (t) => {
  const s = await setup(t);
  s.sync.state.autoResult = okSync();
  const ws = s.make(syncConfig({ interval: 10 }));
  await ws.start();
  assert.ok(s.log.text("warn").includes("[workspace-sync] Interval increased from 10s to 60s (minimum)"));
  assert.ok(s.log.text("info").includes("[workspace-sync] Starting periodic sync every 60s in mailbox mode (pure file sync, zero LLM cost)"));
  assert.deepEqual(s.clock.pendingDelays(), [5 * S]);
  await s.clock.advance(5 * S);
  await settle();
  assert.equal(s.sync.calls.length, 1);
  assert.equal(s.sync.calls[0]!.params.dryRun, false);
  assert.deepEqual(s.clock.pendingDelays(), [60 * S]);
  await s.clock.advance(60 * S);
  await settle();
  assert.equal(s.sync.calls.length, 2);
  assert.equal(ws.status().sync.syncCount, 2);

  const s2 = await setup(t);
  const manual = s2.make(syncConfig({ interval: 0 }));
  await manual.start();
  assert.ok(s2.log.text("info").includes("[workspace-sync] Periodic sync disabled (interval=0)"));
  assert.equal(s2.clock.pendingTimers(), 0);
  assert.equal(manual.status().sync.running, false);
  s2.sync.state.autoResult = okSync();
  const r = await manual.syncNow();
  assert.equal(r.ok, true, "manual sync still works with interval 0");
  assert.equal(manual.status().sync.syncCount, 1);
});

test("sync without mode never schedules and logs the plugin's BREAKING error", async (t) => {
  const s = await setup(t);
  const ws = s.make({ sync: { provider: "local", local: { root: "/nonexistent-bucket" }, interval: 120 } });
  await ws.start();
  assert.ok(s.log.text("error").some((l) => l.startsWith('[workspace-sync] BREAKING: "mode" is now required.')));
  assert.equal(s.clock.pendingTimers(), 0);
});

test("no overlap: a slow backup keeps the next run from starting; the next is armed only after it ends", async (t) => {
  const s = await setup(t);
  const ws = s.make(backupConfig({ interval: 300 }));
  await ws.start();
  await s.clock.advance(30 * S);
  await settle();
  assert.equal(s.backup.calls.length, 1);
  assert.equal(s.clock.pendingTimers(), 0, "no timer while a backup runs");
  await s.clock.advance(10 * 300 * S);
  assert.equal(s.backup.calls.length, 1, "ten intervals later the slow backup is still the only one");
  assert.equal(ws.status().backup.inProgress, true);
  // A manual backup joins the running one instead of starting a second.
  const manual = ws.backupNow();
  await settle();
  assert.equal(s.backup.calls.length, 1);
  s.backup.calls[0]!.resolve(okBackup());
  assert.equal((await manual).ok, true);
  await settle();
  assert.equal(s.backup.state.maxConcurrent, 1);
  assert.deepEqual(s.clock.pendingDelays(), [300 * S]);
  await s.clock.advance(300 * S);
  await settle();
  assert.equal(s.backup.calls.length, 2);
  s.backup.calls[1]!.resolve(okBackup());
  await settle();
  assert.equal(ws.status().backup.backupCount, 2);
});

test("no overlap: a slow sync makes the periodic tick skip and a manual sync wait its turn", async (t) => {
  const s = await setup(t);
  const ws = s.make(syncConfig({ interval: 60 }));
  await ws.start();
  const manual1 = ws.syncNow(); // runs at once: nothing else is running
  await settle();
  assert.equal(s.sync.calls.length, 1);
  await s.clock.advance(5 * S); // periodic tick while the manual sync runs
  await settle();
  assert.ok(s.log.text("info").includes("[workspace-sync] Sync already in progress, skipping this cycle"));
  assert.equal(s.sync.calls.length, 1);
  const manual2 = ws.syncNow({ dryRun: true }); // queued behind the first
  await settle();
  assert.equal(s.sync.calls.length, 1);
  s.sync.calls[0]!.resolve(okSync());
  assert.equal((await manual1).ok, true);
  await settle();
  assert.equal(s.sync.calls.length, 2, "the queued sync starts once the first ended");
  assert.equal(s.sync.calls[1]!.params.dryRun, true);
  s.sync.calls[1]!.resolve(okSync());
  assert.equal((await manual2).ok, true);
  assert.equal(s.sync.state.maxConcurrent, 1);
  const st = ws.status().sync;
  assert.equal(st.syncCount, 1, "dry runs are not counted");
});

test("persisted last success: a restart before the interval is due does not back up until it is due", async (t) => {
  const s = await setup(t);
  s.backup.state.autoResult = okBackup();
  await recordRun(s.dir, "backup", new Date(s.clock.now() - HOUR), { ok: true, result: "backup-x.tar.gz" });
  const ws = s.make(backupConfig({ interval: 86400 }));
  await ws.start();
  assert.deepEqual(s.clock.pendingDelays(), [DAY - HOUR]);
  assert.equal(ws.status().backup.nextRunAt?.getTime(), s.clock.now() + DAY - HOUR);
  assert.equal(ws.status().backup.lastBackupOk, true, "status is seeded from the state folder");
  await s.clock.advance(DAY - HOUR - 1);
  await settle();
  assert.equal(s.backup.calls.length, 0, "no backup one millisecond before it is due");
  await s.clock.advance(1);
  await settle();
  assert.equal(s.backup.calls.length, 1);
});

test("persisted last success: a host that was down past the due time backs up 30 s after start", async (t) => {
  const s = await setup(t);
  s.backup.state.autoResult = okBackup();
  await recordRun(s.dir, "backup", new Date(s.clock.now() - 3 * DAY), { ok: true, result: "backup-x.tar.gz" });
  // A later failure does not count as a success: the schedule follows lastSuccessAt.
  await recordRun(s.dir, "backup", new Date(s.clock.now() - HOUR), { ok: false, error: "network" });
  assert.equal((await readBackupState(s.dir)).lastBackupOk, false);
  const ws = s.make(backupConfig({ interval: 86400 }));
  await ws.start();
  assert.deepEqual(s.clock.pendingDelays(), [30 * S]);
  await s.clock.advance(30 * S);
  await settle();
  assert.equal(s.backup.calls.length, 1);
});

test("backup-only config (sync provider off) schedules backups; the plugin-shaped wrapper too", async (t) => {
  const s = await setup(t);
  s.backup.state.autoResult = okBackup();
  const config = backupConfig({ interval: 3600 }, { provider: "off" });
  const ws = s.make(config);
  await ws.start();
  assert.ok(s.log.text("info").includes("[workspace-sync] Workspace sync not configured"));
  assert.deepEqual(s.clock.pendingDelays(), [30 * S]);
  await s.clock.advance(30 * S);
  await settle();
  assert.equal(s.backup.calls.length, 1);
  assert.equal(ws.status().backup.running, true);
  assert.equal(ws.status().sync.running, false);

  const clock = new ManualClock(s.clock.now());
  const other = fakeBackup();
  other.state.autoResult = okBackup();
  const stateDir = await tempDir("state");
  await startBackupManager(config, s.dir, stateDir, s.log, { clock, operations: { runBackup: other.fn } });
  t.after(() => stopBackupManager());
  t.after(() => removeDir(stateDir));
  assert.equal(getBackupManagerStatus().running, true);
  await clock.advance(30 * S);
  await settle();
  assert.equal(other.calls.length, 1);
  assert.deepEqual(getBackupManagerStatus(), { running: true, lastBackupAt: new Date(clock.now()), lastBackupOk: true, backupCount: 1, errorCount: 0 });
  await stopBackupManager();
  assert.equal(clock.pendingTimers(), 0);
  assert.equal(getBackupManagerStatus().running, false);
  assert.equal(getBackupManagerStatus().backupCount, 1, "stop keeps the counters");
});

test("failures are counted; start resets the counters, stop keeps them", async (t) => {
  const s = await setup(t);
  s.backup.state.autoResult = failedBackup("bucket gone");
  const stateDir = await tempDir("st");
  t.after(() => removeDir(stateDir));
  const ws = s.make(backupConfig({ interval: 300 }), { stateDir });
  const errors: string[] = [];
  ws.on("error", (e, ctx) => errors.push(`${ctx.operation}:${e.code}:${e.message}`));
  await ws.start();
  await s.clock.advance(30 * S);
  await settle();
  assert.deepEqual(
    { ...ws.status().backup, lastBackupAt: undefined, nextRunAt: undefined },
    { running: true, lastBackupAt: undefined, lastBackupOk: false, backupCount: 1, errorCount: 1, inProgress: false, nextRunAt: undefined },
  );
  assert.ok(s.log.text("error").includes("[backup] Scheduled backup failed: bucket gone"));
  assert.deepEqual(errors, ["backup:PROVIDER_ERROR:bucket gone"]);
  await ws.stop();
  assert.equal(ws.status().backup.errorCount, 1, "stop keeps the counters");
  assert.equal(ws.status().backup.running, false);
  await ws.start();
  assert.equal(ws.status().backup.errorCount, 0, "start resets them");
  assert.equal(ws.status().backup.backupCount, 0);
});

test("an operation that throws is logged as unexpected and counted as a failure", async (t) => {
  const s = await setup(t);
  const ws = new WorkspaceSync({
    config: backupConfig({ interval: 300 }),
    workspaceDir: s.dir,
    stateDir: s.dir,
    logger: s.log,
    clock: s.clock,
    operations: {
      runBackup: async () => {
        throw new Error("kaboom");
      },
    },
  });
  t.after(() => ws.stop());
  const r = await ws.backupNow();
  assert.deepEqual(r, { ok: false, error: "kaboom", code: "PROVIDER_ERROR" });
  assert.ok(s.log.text("error").includes("[backup] Unexpected error: kaboom"));
  assert.equal(ws.status().backup.errorCount, 1);
});

test("stop clears every timer, aborts the run in flight and resolves", async (t) => {
  const s = await setup(t);
  const ws = s.make({ ...syncConfig({ interval: 120 }), backup: { enabled: true, provider: "local", local: { root: "/x" }, interval: 600 } });
  await ws.start();
  assert.equal(s.clock.pendingTimers(), 2, "one backup and one sync timer");
  await s.clock.advance(5 * S); // sync starts, stays pending
  await settle();
  assert.equal(s.sync.calls.length, 1);
  await ws.stop();
  assert.equal(s.clock.pendingTimers(), 0);
  assert.equal(s.sync.calls[0]!.settled, true, "the running sync was aborted");
  assert.equal(s.sync.calls[0]!.params.signal?.aborted, true);
  const st = ws.status();
  assert.equal(st.running, false);
  assert.equal(st.sync.inProgress, false);
  assert.equal(st.sync.errorCount, 0, "a cancelled run is not an error");
  assert.equal(st.sync.syncCount, 0, "nor an attempt");
  assert.ok(s.log.text("info").includes("[workspace-sync] service stopped"));
  await s.clock.advance(10 * DAY);
  assert.equal(s.backup.calls.length, 0, "nothing runs after stop");
  assert.equal(s.sync.calls.length, 1);
});

test("stop gives up waiting after the bound when an operation ignores the abort", async (t) => {
  const s = await setup(t);
  s.backup.state.ignoreAbort = true;
  const ws = s.make(backupConfig({ interval: 300 }));
  await ws.start();
  await s.clock.advance(30 * S);
  await settle();
  let stopped = false;
  const stopping = ws.stop().then(() => (stopped = true));
  await settle();
  assert.equal(stopped, false, "stop waits for the run to settle");
  await s.clock.advance(10 * S);
  await stopping;
  assert.equal(stopped, true);
  assert.ok(s.log.text("warn").some((l) => l.includes("did not finish within 10s")));
  assert.equal(s.clock.pendingTimers(), 0);
  s.backup.calls[0]!.resolve(okBackup());
});

test("events: backup:start → backup:done, sync:start → sync:done, with the trigger", async (t) => {
  const s = await setup(t);
  s.backup.state.autoResult = okBackup();
  s.sync.state.autoResult = okSync();
  const ws = s.make({ ...syncConfig({ interval: 0 }), backup: { enabled: true, provider: "local", local: { root: "/x" } } });
  const seen: string[] = [];
  ws.on("backup:start", (e) => seen.push(`backup:start:${e.trigger}`));
  ws.on("backup:done", (e) => seen.push(`backup:done:${e.trigger}:${e.result.ok}`));
  ws.on("sync:start", (e) => seen.push(`sync:start:${e.trigger}:${e.dryRun}`));
  ws.on("sync:done", (e) => seen.push(`sync:done:${e.trigger}:${e.result.ok}`));
  await ws.backupNow();
  await ws.syncNow({ dryRun: true });
  assert.deepEqual(seen, ["backup:start:manual", "backup:done:manual:true", "sync:start:manual:true", "sync:done:manual:true"]);
  // A listener that throws does not break the run.
  ws.on("backup:start", () => {
    throw new Error("bad listener");
  });
  assert.equal((await ws.backupNow()).ok, true);
  assert.ok(s.log.text("warn").some((l) => l.includes('"backup:start" listener threw: bad listener')));
});

test("a manual backup counts as the scheduled one: the next runs one interval after it", async (t) => {
  const s = await setup(t);
  s.backup.state.autoResult = okBackup();
  const ws = s.make(backupConfig({ interval: 3600 }));
  await ws.start();
  await s.clock.advance(10 * S);
  const r = await ws.backupNow();
  assert.equal(r.ok, true);
  assert.equal(s.backup.calls.length, 1);
  await s.clock.advance(30 * S);
  await settle();
  assert.equal(s.backup.calls.length, 1, "no scheduled backup right after the manual one");
  await s.clock.advance(3600 * S - 31 * S);
  await settle();
  assert.equal(s.backup.calls.length, 1, "not before one interval has passed");
  await s.clock.advance(2 * S);
  await settle();
  assert.equal(s.backup.calls.length, 2);
});
