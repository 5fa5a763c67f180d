/**
 * The library functions the CLI handlers call (so a handler only parses, calls and prints):
 * listSnapshotsWithRetention, pruneBackup, probeBackupTarget and listSyncRemote, on the real local
 * provider with real snapshots.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { runBackup } from "../src/backup/index.js";
import { listSnapshotsWithRetention } from "../src/backup/list.js";
import { probeBackupTarget } from "../src/backup/probe.js";
import { pruneBackup } from "../src/backup/prune.js";
import { defaultRestoreFolder } from "../src/backup/restore.js";
import { resolveConfig } from "../src/config/index.js";
import { listSyncRemote } from "../src/sync/remote.js";
import { sampleAgent, tempDir, writeTree } from "./support/tree.js";
import type { Logger } from "../src/logger.js";

async function fixture(t: { after(fn: () => Promise<void>): void }, retain: unknown = { last: 1 }) {
  const { dir, cleanup } = await tempDir("ws-clilib-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const cloud = path.join(dir, "cloud");
  await fsp.mkdir(cloud);
  const config = resolveConfig({
    sync: { provider: "local", mode: "mailbox", remotePath: "share", local: { root: cloud } },
    backup: { enabled: true, prefix: "backups", retain },
  });
  const backupAt = async (iso: string) => {
    const r = await runBackup({ syncConfig: config, workspaceDir, stateDir, now: () => new Date(iso), skipPrune: true });
    assert.ok(r.ok, r.ok ? "" : r.error);
    return r.snapshotName;
  };
  return { dir, cloud, workspaceDir, stateDir, config, backupAt };
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, error: () => undefined, warn: (m) => warnings.push(m) };
}

test("listSnapshotsWithRetention: newest first, each with the rules keeping it; pruneBackup dry run then for real", async (t) => {
  const f = await fixture(t);
  const older = await f.backupAt("2026-01-01T10:00:00Z");
  const newer = await f.backupAt("2026-01-02T10:00:00Z");

  const listed = await listSnapshotsWithRetention({ config: f.config, stateDir: f.stateDir });
  assert.ok(listed.ok);
  assert.deepEqual(listed.snapshots.map((s) => s.name), [newer, older]);
  assert.ok(listed.snapshots[0]?.keptBy.length, "the newest is kept by a rule");
  assert.deepEqual(listed.snapshots[1]?.keptBy, [], "the older would be pruned");

  const dry = await pruneBackup({ config: f.config, stateDir: f.stateDir, dryRun: true });
  assert.ok(dry.ok && dry.dryRun);
  assert.deepEqual([dry.keep.map((s) => s.name), dry.prune.map((s) => s.name), dry.deleted], [[newer], [older], []]);
  const afterDry = await listSnapshotsWithRetention({ config: f.config, stateDir: f.stateDir });
  assert.ok(afterDry.ok);
  assert.deepEqual(afterDry.snapshots.map((s) => s.name), [newer, older], "a dry run deletes nothing");

  const real = await pruneBackup({ config: f.config, stateDir: f.stateDir });
  assert.ok(real.ok);
  assert.ok(real.deleted.includes(older));
  const after = await listSnapshotsWithRetention({ config: f.config, stateDir: f.stateDir });
  assert.ok(after.ok);
  assert.deepEqual(after.snapshots.map((s) => s.name), [newer]);
});

test("an invalid retention policy is a warning for the listing and a typed failure for pruning (nothing deleted)", async (t) => {
  const f = await fixture(t);
  await f.backupAt("2026-01-01T10:00:00Z");
  // A policy the schema accepts but retention refuses (it keeps nothing).
  const config = { ...f.config, backup: { ...f.config.backup!, retain: {} as never } };
  const logger = recordingLogger();
  const listed = await listSnapshotsWithRetention({ config, stateDir: f.stateDir, logger });
  assert.ok(listed.ok);
  assert.deepEqual(listed.snapshots[0]?.keptBy, []);
  assert.equal(logger.warnings.length, 1);
  assert.match(logger.warnings[0] ?? "", /^retention policy: /);
  const pruned = await pruneBackup({ config, stateDir: f.stateDir });
  assert.equal(pruned.ok, false);
  assert.equal(pruned.ok ? "" : pruned.code, "CONFIG_INVALID");
  assert.equal((await fsp.readdir(path.join(f.cloud, "backups"))).filter((n) => n.startsWith("backup-") && n.endsWith(".tar.gz")).length, 1);
});

test("without a backup block: typed BACKUP_NOT_ENABLED results, never a throw", async (t) => {
  const f = await fixture(t);
  const config = { ...f.config, backup: undefined };
  const pruned = await pruneBackup({ config, stateDir: f.stateDir });
  assert.equal(pruned.ok ? "" : pruned.code, "BACKUP_NOT_ENABLED");
  const probed = await probeBackupTarget({ config, stateDir: f.stateDir });
  assert.equal(probed.ok ? "" : probed.code, "BACKUP_NOT_ENABLED");
  const listed = await listSnapshotsWithRetention({ config, stateDir: f.stateDir });
  assert.equal(listed.ok ? "" : listed.code, "BACKUP_NOT_ENABLED");
});

test("probeBackupTarget: OK for a reachable folder, a typed failure naming the folder otherwise", async (t) => {
  const f = await fixture(t);
  assert.deepEqual(await probeBackupTarget({ config: f.config, stateDir: f.stateDir }), { ok: true });
  const gone = path.join(f.dir, "no", "such", "root");
  const config = resolveConfig({ sync: { provider: "local", mode: "mailbox", local: { root: gone } }, backup: { enabled: true } });
  const probed = await probeBackupTarget({ config, stateDir: f.stateDir });
  assert.equal(probed.ok, false);
  assert.match(probed.ok ? "" : probed.error, /does not exist/);
});

test("listSyncRemote: every file below sync.remotePath, sorted, with sizes; a typed failure when sync is off", async (t) => {
  const f = await fixture(t);
  await writeTree(path.join(f.cloud, "share"), { "b.txt": "bb", "a/z.md": "z", "a/y.md": "yyy" });
  const listed = await listSyncRemote({ config: f.config, stateDir: f.stateDir, check: true });
  assert.ok(listed.ok, listed.ok ? "" : listed.error);
  assert.deepEqual(listed.files.map((e) => [e.path, e.size]), [["a/y.md", 3], ["a/z.md", 1], ["b.txt", 2]]);
  assert.ok(listed.remote.endsWith("/share"), listed.remote);
  assert.ok(listed.files.every((e) => e.mtime === undefined || !Number.isNaN(Date.parse(e.mtime))));
  assert.equal(listed.count, 3);
  const counted = await listSyncRemote({ config: f.config, stateDir: f.stateDir, countOnly: true });
  assert.deepEqual(counted.ok ? [counted.count, counted.files.length] : counted.error, [3, 0], "countOnly keeps no entries");

  const off = resolveConfig({ sync: { provider: "off" } });
  const r = await listSyncRemote({ config: off, stateDir: f.stateDir });
  assert.equal(r.ok ? "" : r.code, "CONFIG_INVALID");
});

test("defaultRestoreFolder is where runRestore restores without restoreTo", () => {
  assert.equal(defaultRestoreFolder("/state", "backup-20260101T000000Z.tar.gz"), path.resolve("/state/.backup-restore/backup-20260101T000000Z.tar.gz"));
});
