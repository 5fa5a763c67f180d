/**
 * The end of a backup round trip, shared by the local and S3 backup tests: the new snapshot is the
 * only one listed, and restoring "latest" gives back the workspace (checksum verified).
 */
import assert from "node:assert/strict";
import { listBackupSnapshots, runRestore } from "../../src/backup/index.js";
import { expectedWorkspace, treeDiff, treeFingerprint } from "./tree.js";
import path from "node:path";

/** Asserts that `snapshotName` is the only snapshot and that it restores into `restoreTo` exactly. */
export async function assertListedAndRestored(params: {
  syncConfig: Record<string, unknown>;
  workspaceDir: string;
  stateDir: string;
  snapshotName: string;
  restoreTo: string;
}): Promise<void> {
  const { syncConfig, workspaceDir, stateDir, snapshotName, restoreTo } = params;
  const list = await listBackupSnapshots({ syncConfig, stateDir });
  assert.ok(list.ok);
  assert.deepEqual(list.snapshots, [snapshotName]);
  const r = await runRestore({ syncConfig, workspaceDir, stateDir, snapshotName: "latest", restoreTo });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.verified, true);
  assert.deepEqual(treeDiff(await expectedWorkspace(workspaceDir), await treeFingerprint(path.join(restoreTo, "workspace"))), []);
}
