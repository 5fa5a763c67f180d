/**
 * Disk full. A small tmpfs (mounted for the test; needs root, skipped otherwise) plays a full disk:
 * a restore that does not fit fails with INSUFFICIENT_SPACE naming the fix and removes its staging
 * folder; a sync download that does not fit fails the same way and leaves neither a half-written
 * file nor its temp file. The snapshot and the cloud copies are untouched, so the retry on a disk
 * with room succeeds.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fsp, statfsSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { WorkspaceSyncError } from "../src/errors.js";
import { runBackup, runRestore } from "../src/backup/index.js";
import type { SyncSettings } from "../src/config/types.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { SAVE_CHUNK_BYTES, loadState, pathRecord, saveState, stateJsonPieces } from "../src/sync/state.js";
import type { StateEntry, SyncState } from "../src/sync/types.js";
import { tempDir, treeDiff, treeFingerprint, writeTree } from "./support/tree.js";
import { syncSettings } from "./sync-suite.js";

const MiB = 1024 * 1024;

/**
 * A temp folder with a tmpfs of `sizeMiB` mounted at `<dir>/<sub>`, or undefined (test skipped)
 * when mounting is not possible here. One cleanup unmounts first, then removes the folder.
 */
async function withSmallDisk(t: TestContext, sub: string, sizeMiB: number): Promise<{ dir: string; small: string } | undefined> {
  const { dir, cleanup } = await tempDir("ws-disk-");
  const small = path.join(dir, sub);
  await fsp.mkdir(small, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", small], { encoding: "utf8" });
  if (r.status !== 0) {
    await cleanup();
    t.skip(`cannot mount a tmpfs here (${(r.stderr || r.error?.message || "").trim()}): run as root to test disk-full handling`);
    return undefined;
  }
  t.after(async () => {
    spawnSync("umount", ["-l", small]);
    await cleanup();
  });
  return { dir, small };
}

test("restore onto a full disk: INSUFFICIENT_SPACE, staging folder removed, snapshot intact; a retry with room works", async (t) => {
  const disk = await withSmallDisk(t, "small", 4);
  if (!disk) return;
  const { dir, small } = disk;
  const ws = path.join(dir, "workspace");
  await writeTree(ws, { "a.txt": "alpha\n", "data/one.bin": randomBytes(3 * MiB), "data/two.bin": randomBytes(3 * MiB) });
  const syncConfig = { backup: { enabled: true, provider: "local", local: { root: path.join(dir, "cloud") }, encrypt: true, passphrase: "disk full ☃", include: ["workspace"] } };
  const stateDir = path.join(dir, "state");
  const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir });
  assert.ok(b.ok, JSON.stringify(b));

  const target = path.join(small, "restore");
  const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir, snapshotName: "latest", restoreTo: target });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, "INSUFFICIENT_SPACE");
  assert.match(!r.ok ? r.error : "", /free disk space|another folder/);
  await assert.rejects(fsp.access(target), "the staging folder was removed");
  assert.deepEqual(await fsp.readdir(small), [], "nothing is left on the full disk");

  const ok = await runRestore({ syncConfig, workspaceDir: ws, stateDir, snapshotName: "latest", restoreTo: path.join(dir, "roomy") });
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.deepEqual(treeDiff(await treeFingerprint(ws), await treeFingerprint(path.join(dir, "roomy", "workspace"))), []);
});

test("restore into an existing empty folder on a full disk empties it again but keeps the folder", async (t) => {
  const disk = await withSmallDisk(t, "small", 2);
  if (!disk) return;
  const { dir, small } = disk;
  const ws = path.join(dir, "workspace");
  await writeTree(ws, { "big.bin": randomBytes(3 * MiB) });
  const syncConfig = { backup: { enabled: true, provider: "local", local: { root: path.join(dir, "cloud") }, encrypt: false, include: ["workspace"] } };
  const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state") });
  assert.ok(b.ok);
  const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state"), snapshotName: "latest", restoreTo: small });
  assert.equal(!r.ok && r.code, "INSUFFICIENT_SPACE");
  assert.deepEqual(await fsp.readdir(small), []);
});

test("a sync download onto a full disk: INSUFFICIENT_SPACE, no half file, no temp file; the cloud copy is untouched", async (t) => {
  const disk = await withSmallDisk(t, "ws", 2);
  if (!disk) return;
  const { dir, small: ws } = disk;
  const provider = createLocalProvider({ root: path.join(dir, "cloud") });
  const big = randomBytes(3 * MiB);
  await provider.write("share/big.bin", Readable.from([big]));
  const settings: SyncSettings = syncSettings({ exclude: [], concurrency: 2 });
  const r = await runSyncWithProvider({ settings, provider, workspaceDir: ws, stateDir: path.join(dir, "state") });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, "INSUFFICIENT_SPACE");
  assert.deepEqual(await fsp.readdir(ws), [], "no big.bin and no .ws-sync-*.tmp");
  assert.ok((await fsp.readFile(path.join(dir, "cloud", "share", "big.bin"))).equals(big), "the cloud copy is untouched");
  // The next run (disk still full) fails the same way and deletes nothing in the cloud.
  const again = await runSyncWithProvider({ settings, provider, workspaceDir: ws, stateDir: path.join(dir, "state") });
  assert.equal(!again.ok && again.code, "INSUFFICIENT_SPACE");
  assert.ok((await fsp.readFile(path.join(dir, "cloud", "share", "big.bin"))).equals(big));
});

test("a state that does not fit on the disk fails to save (INSUFFICIENT_SPACE) and leaves the saved one as it was; never a cut-off state", async (t) => {
  const disk = await withSmallDisk(t, "state", 1);
  if (!disk) return;
  const { small } = disk;
  const id = { description: "local:/c", remotePath: "share", workspace: "/w" };
  const file = path.join(small, "state.json");
  const before: SyncState = { version: 1, mode: "bisync", ...id, filtersHash: "h", savedAt: "x", files: pathRecord<StateEntry>() };
  before.files["kept.txt"] = { local: { size: 1, mtimeMs: 1 }, remote: { size: 1 } };
  await saveState(file, before);
  const files = pathRecord<StateEntry>();
  for (let i = 0; i < 4000; i++) files[`notes/f${i}.md`] = { local: { size: i, mtimeMs: 1796491170000 + i }, remote: { size: i, revision: `${i}:abc` } };
  const state: SyncState = { ...before, files };
  const total = Buffer.byteLength([...stateJsonPieces(state)].join(""));
  // Two writes, the second of ~150 KB (each write is at most SAVE_CHUNK_BYTES).
  assert.ok(total > 1.4 * SAVE_CHUNK_BYTES && total < 2 * SAVE_CHUNK_BYTES, `${total} bytes`);
  // Room for all but the last 32 KiB: the last write is cut short by the disk, not refused.
  const free = (): number => {
    const st = statfsSync(small);
    return st.bavail * st.bsize;
  };
  const room = total - 32 * 1024;
  await fsp.writeFile(path.join(small, "fill"), Buffer.alloc(Math.max(0, free() - room - 8192)));
  await assert.rejects(saveState(file, state), (err: WorkspaceSyncError) => err.code === "INSUFFICIENT_SPACE");
  const said: string[] = [];
  const back = await loadState(file, id, (m) => said.push(m));
  assert.deepEqual(said, []);
  assert.deepEqual(Object.keys(back!.files), ["kept.txt"], "the state saved before is still there, whole");
  assert.deepEqual((await fsp.readdir(small)).sort(), ["fill", "state.json"], "no temp file left");
});
