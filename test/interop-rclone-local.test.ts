/**
 * Migrating from rclone on a local folder (the `local` provider), both ways, with the real rclone:
 * - rclone wrote the folder (same sizes, nanosecond mtimes): our first mirror and bisync runs
 *   transfer nothing and make no conflict, and no file over 8 MiB is uploaded again.
 * - we wrote it: `rclone check` reports 0 differences with every hash checked, and `rclone sync`
 *   copies nothing. Node sets file times to the microsecond only, so rclone (which compares local
 *   times to the nanosecond) would still adjust sub-microsecond digits: with a 1µs modify window
 *   it finds nothing at all to do.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import type { SyncMode } from "../src/config/types.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import type { SyncRunSuccess } from "../src/sync/types.js";
import { MIGRATION_FILES, makeMigrationTree, rcloneChanges, rcloneOk, requireRclone } from "./support/rclone.js";
import { instrument, memoryLogger, syncSettings } from "./sync-suite.js";

const REMOTE = "share";

async function ourSync(t: TestContext, root: string, ws: string, mode: SyncMode) {
  const inner = createLocalProvider({ root });
  const provider = instrument(inner);
  if (inner.tempFileKind) provider.tempFileKind = inner.tempFileKind.bind(inner);
  const logger = memoryLogger();
  const stateDir = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-rcl-state-"));
  t.after(() => fsp.rm(stateDir, { recursive: true, force: true }));
  const result = await runSyncWithProvider({ settings: syncSettings({ mode, remotePath: REMOTE, exclude: [] }), provider, workspaceDir: ws, stateDir, logger });
  assert.ok(result.ok, `sync failed: ${!result.ok ? result.error : ""}\n${logger.lines.join("\n")}`);
  return { result: result as SyncRunSuccess, counts: provider.counts };
}

function assertNothingMoved(r: SyncRunSuccess, label: string): void {
  assert.deepEqual({ up: r.uploaded, down: r.downloaded, deleted: r.deleted, conflicts: r.conflicts, skipped: r.skipped ?? [] }, { up: [], down: [], deleted: [], conflicts: [], skipped: [] }, label);
}

describe("rclone interop on local folders", () => {
  let tmp = "";
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-rclone-local-"));
  });
  after(() => fsp.rm(tmp, { recursive: true, force: true }));

  it("a folder written by rclone sync: first mirror and bisync runs transfer nothing", async (t) => {
    if (!requireRclone(t)) return;
    const ws = path.join(tmp, "ws-a");
    const root = path.join(tmp, "cloud-a");
    await makeMigrationTree(ws);
    rcloneOk(["sync", ws, path.join(root, REMOTE)]);
    for (const mode of ["mirror", "bisync"] as const) {
      const { result, counts } = await ourSync(t, root, ws, mode);
      assertNothingMoved(result, `first ${mode} run`);
      assert.equal(counts.write, 0);
      assert.equal(counts.read, 0, `${mode}: same size and nanosecond mtime, nothing read to compare`);
    }
  });

  it("lost state with moved times: both copies are hashed, whatever their size, and nothing moves", async (t) => {
    if (!requireRclone(t)) return;
    const ws = path.join(tmp, "ws-b");
    const root = path.join(tmp, "cloud-b");
    await makeMigrationTree(ws);
    rcloneOk(["sync", ws, path.join(root, REMOTE)]);
    const now = new Date();
    for (const f of MIGRATION_FILES) await fsp.utimes(path.join(ws, ...f.path.split("/")), now, now);
    const { result, counts } = await ourSync(t, root, ws, "bisync");
    assertNothingMoved(result, "bisync without state");
    assert.equal(counts.write, 0);
    assert.ok(counts.read >= 1, "the 9 MiB file was compared by reading both copies");
  });

  it("a folder we synced: rclone check finds 0 differences and rclone sync copies nothing", async (t) => {
    if (!requireRclone(t)) return;
    const ws = path.join(tmp, "ws-c");
    const root = path.join(tmp, "cloud-c");
    await makeMigrationTree(ws);
    const { result } = await ourSync(t, root, ws, "mirror");
    assert.equal(result.uploaded.length, MIGRATION_FILES.length);
    const target = path.join(root, REMOTE);

    const check = rcloneOk(["check", ws, target]);
    assert.match(check.log, /0 differences found/);
    assert.match(check.log, new RegExp(`${MIGRATION_FILES.length} matching files`));
    assert.doesNotMatch(check.log, /could not be checked/);
    // Within a microsecond of the source: nothing to do at all.
    const exact = rcloneOk(["sync", ws, target, "-v", "--dry-run", "--modify-window", "1us"]);
    assert.deepEqual(rcloneChanges(exact.log), [], exact.log);
    // At rclone's nanosecond precision: no file is copied (at most a time is set).
    const plain = rcloneOk(["sync", ws, target, "-v"]);
    assert.deepEqual(rcloneChanges(plain.log).filter((l) => !/Updated modification time/.test(l)), [], plain.log);
  });
});
