/**
 * `findSnapshot` (what `backup restore` shows before restoring, and all a `--dry-run` does): the
 * newest for "latest", a named one checked to exist, typed errors otherwise.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { runBackup } from "../src/backup/index.js";
import { findSnapshot } from "../src/backup/find-snapshot.js";
import { resolveConfig } from "../src/config/index.js";
import { sampleAgent, tempDir } from "./support/tree.js";

test("findSnapshot: latest, a named snapshot, none yet, a missing name, no backup block", async (t) => {
  const { dir, cleanup } = await tempDir("ws-find-snapshot-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const config = resolveConfig({ sync: { provider: "local", local: { root: path.join(dir, "cloud") } }, backup: { enabled: true, encrypt: false, prefix: "backups" } });
  await assert.rejects(findSnapshot({ config, stateDir, snapshotName: "latest" }), { code: "SNAPSHOT_NOT_FOUND" });
  const made = await runBackup({ syncConfig: config, workspaceDir, stateDir });
  assert.ok(made.ok, made.ok ? "" : made.error);
  assert.equal(await findSnapshot({ config, stateDir, snapshotName: "latest" }), made.snapshotName);
  assert.equal(await findSnapshot({ config, stateDir, snapshotName: "" }), made.snapshotName);
  assert.equal(await findSnapshot({ config, stateDir, snapshotName: made.snapshotName }), made.snapshotName);
  await assert.rejects(findSnapshot({ config, stateDir, snapshotName: "backup-19990101T000000Z.tar.gz" }), { code: "SNAPSHOT_NOT_FOUND" });
  await assert.rejects(findSnapshot({ config, stateDir, snapshotName: "../escape" }), { code: "SNAPSHOT_NOT_FOUND" });
  const noBackup = resolveConfig({ sync: { provider: "local", local: { root: path.join(dir, "cloud") } } });
  await assert.rejects(findSnapshot({ config: noBackup, stateDir, snapshotName: "latest" }), { code: "BACKUP_NOT_ENABLED" });
});
