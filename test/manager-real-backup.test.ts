/**
 * The manager driving the REAL runBackup against the real local provider: a scheduled backup
 * that completes, a restart that honours the persisted last success, and stop() in the middle of
 * a streaming backup leaving no snapshot, no temp file and no timer behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { readBackupState } from "../src/backup/state.js";
import { ManualClock, WorkspaceSync } from "../src/manager/index.js";
import { activeResources, recordingLogger, removeDir, settle, tempDir, waitUntil } from "./manager-helpers.js";

const S = 1000;

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, rel: string): Promise<void> {
    let items;
    try {
      items = await fsp.readdir(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const it of items) {
      const r = rel ? `${rel}/${it.name}` : it.name;
      if (it.isDirectory()) await walk(path.join(d, it.name), r);
      else out.push(r);
    }
  }
  await walk(dir, "");
  return out.sort();
}

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const root = await tempDir("real");
  const workspace = path.join(root, "workspace");
  const state = path.join(root, "state");
  const bucket = path.join(root, "bucket");
  await fsp.mkdir(workspace, { recursive: true });
  await fsp.mkdir(state, { recursive: true });
  t.after(() => removeDir(root));
  const config = {
    sync: { provider: "off" },
    backup: { enabled: true, provider: "local", local: { root: bucket }, include: ["workspace"], encrypt: false, interval: 3600, compressionLevel: 1 },
  };
  return { root, workspace, state, bucket, config };
}

test("a scheduled real backup lands in the local bucket; a restart waits for the interval counted from it", async (t) => {
  const s = await setup(t);
  await fsp.writeFile(path.join(s.workspace, "notes.md"), "# hello\n");
  const clock = new ManualClock(Date.UTC(2026, 6, 1, 10));
  const log = recordingLogger();
  const first = new WorkspaceSync({ config: s.config, workspaceDir: s.workspace, stateDir: s.state, logger: log, clock });
  t.after(() => first.stop());
  await first.start();
  const done = once(first, "backup:done");
  await clock.advance(30 * S);
  const [{ result }] = (await done) as [{ result: { ok: boolean; snapshotName?: string } }];
  assert.equal(result.ok, true, log.text().join("\n"));
  const snapshots = (await listAll(s.bucket)).filter((f) => !f.endsWith(".sha256"));
  assert.equal(snapshots.length, 1, snapshots.join(","));
  assert.equal(path.basename(snapshots[0]!), result.snapshotName);
  assert.equal(first.status().backup.backupCount, 1);
  assert.ok(log.text("info").some((l) => l.startsWith(`[backup] Scheduled backup complete: ${result.snapshotName} (`)));
  const successAt = Date.parse((await readBackupState(s.state)).lastSuccessAt ?? "");
  assert.equal(successAt, Date.UTC(2026, 6, 1, 10, 0, 30), "the persisted success time comes from the manager's clock");
  // Restore through the manager into a staging folder.
  const restoreTo = path.join(s.root, "restored");
  const restored = await first.restore({ snapshotName: "latest", restoreTo });
  assert.equal(restored.ok, true, restored.ok ? "" : restored.error);
  const files = await listAll(restoreTo);
  const notes = files.find((f) => f.endsWith("notes.md"));
  assert.ok(notes, files.join(","));
  assert.equal(await fsp.readFile(path.join(restoreTo, notes), "utf8"), "# hello\n");
  await first.stop();
  assert.equal(clock.pendingTimers(), 0);

  // "Restart" 20 minutes later: the next backup is due at success + 1 h, not 30 s after start.
  await clock.advance(20 * 60 * S);
  const second = new WorkspaceSync({ config: s.config, workspaceDir: s.workspace, stateDir: s.state, logger: log, clock });
  t.after(() => second.stop());
  let started = 0;
  second.on("backup:start", () => started++);
  await second.start();
  assert.equal(second.status().backup.nextRunAt?.getTime(), successAt + 3600 * S);
  await clock.advance(successAt + 3600 * S - clock.now() - 1);
  await settle();
  assert.equal(started, 0, "no backup before the interval is due");
  const again = once(second, "backup:done");
  await clock.advance(1);
  await again;
  assert.equal(started, 1);
  assert.equal((await listAll(s.bucket)).filter((f) => !f.endsWith(".sha256")).length, 2);
  await second.stop();
});

test("stop() during a running real backup aborts it: no snapshot, no temp file, no timers, stop resolves", async (t) => {
  const s = await setup(t);
  // ~40 MB of incompressible data so the backup is still streaming when stop() comes.
  for (let i = 0; i < 5; i++) {
    const fh = await fsp.open(path.join(s.workspace, `blob-${i}.bin`), "w");
    for (let j = 0; j < 8; j++) await fh.write(randomBytes(1024 * 1024));
    await fh.close();
  }
  const timeoutsBefore = activeResources("Timeout");
  const clock = new ManualClock(Date.UTC(2026, 6, 2));
  const log = recordingLogger();
  const ws = new WorkspaceSync({ config: s.config, workspaceDir: s.workspace, stateDir: s.state, logger: log, clock });
  const seen: { result?: { ok: boolean; code?: string } } = {};
  ws.on("backup:done", (e) => (seen.result = e.result as { ok: boolean; code?: string }));
  await ws.start();
  await clock.advance(30 * S); // the scheduled backup starts
  assert.equal(ws.status().backup.inProgress, true);
  // Wait (real time, no assertion on it) until bytes are being written under a temporary name.
  await waitUntil(async () => (await fsp.readdir(s.bucket).catch(() => [] as string[])).some((n) => n.startsWith(".ws-tmp-")) || seen.result !== undefined, "the backup to start writing");
  assert.equal(seen.result, undefined, "the backup must still be running when stop() is called (make the data bigger if this fails)");

  await ws.stop();

  const result = seen.result as { ok: boolean; code?: string } | undefined;
  assert.ok(result, "the backup settled before stop() resolved");
  assert.equal(result.ok, false);
  assert.equal(result.code, "ABORTED");
  assert.deepEqual(await listAll(s.bucket), [], "nothing left in the bucket: no snapshot, no checksum, no temp file");
  assert.equal(ws.status().backup.inProgress, false);
  assert.equal(ws.status().backup.errorCount, 0, "a cancelled backup is not a failure");
  assert.equal(ws.status().running, false);
  assert.equal(clock.pendingTimers(), 0, "no manager timer pending");
  assert.ok(activeResources("Timeout") <= timeoutsBefore, `no Timeout left behind (${process.getActiveResourcesInfo().join(", ")})`);
  assert.equal((await readBackupState(s.state)).lastSuccessAt, undefined, "no success recorded");
  assert.ok(log.text("info").includes("[backup] Scheduled backup cancelled"));
});

test("with the real clock: start + stop leave no Timeout in the process", async (t) => {
  const s = await setup(t);
  const before = activeResources("Timeout");
  const ws = new WorkspaceSync({
    config: { ...s.config, sync: { provider: "local", local: { root: s.bucket }, mode: "mailbox", interval: 60 } },
    workspaceDir: s.workspace,
    stateDir: s.state,
  });
  await ws.start();
  assert.equal(activeResources("Timeout"), before + 2, "one backup and one sync timer armed");
  await ws.stop();
  assert.equal(activeResources("Timeout"), before);
});
