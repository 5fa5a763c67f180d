/**
 * Process killed (SIGKILL) in the middle of a backup, a restore and a bisync. A child process
 * (support/fault-child.ts) runs the operation and freezes once it is well under way; the test kills
 * it there, then checks what is left and runs the operation again: no partial snapshot is ever
 * listed or restored, no half-written file appears under a real name in the workspace, the
 * workspace is never touched by backup or restore, and the next bisync converges.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { listBackupSnapshots, parseChecksumClaim, runBackup, runRestore } from "../src/backup/index.js";
import type { SyncSettings } from "../src/config/types.js";
import { WorkspaceSyncError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import type { ChildJob } from "./support/fault-child.js";
import { s3TestSettings, testS3Client } from "./support/s3.js";
import { tempDir, treeDiff, treeFingerprint, writeTree } from "./support/tree.js";
import { syncSettings } from "./sync-suite.js";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "support", "fault-child.js");
const MiB = 1024 * 1024;
const PASS = "kill -9 ✓ $(rm -rf /) `x` 'q' \"dq\"";

/** Runs the child until it freezes (then SIGKILLs it) or finishes. */
async function runChild(job: ChildJob): Promise<{ killed: boolean; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(job)], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let killed = false;
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    if (!killed && stdout.includes("FROZEN")) {
      killed = true;
      child.kill("SIGKILL");
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  await new Promise<void>((resolve) => child.on("close", () => resolve()));
  clearTimeout(timer);
  return { killed, stdout, stderr };
}

/** A workspace of incompressible files big enough that a backup takes many progress steps. */
async function bigWorkspace(ws: string): Promise<void> {
  const files: Record<string, Buffer | string> = { "notes/a.md": "# notes\n", "memory/MEMORY.md": "remember\n" };
  for (let i = 0; i < 6; i++) files[`data/blob-${i}.bin`] = randomBytes(3 * MiB);
  await writeTree(ws, files);
}

function backupConfig(root: string) {
  return { backup: { enabled: true, provider: "local", local: { root }, encrypt: true, passphrase: PASS, include: ["workspace"] } };
}

/** A temp folder (removed after the test) with a big workspace and a local-provider backup config. */
async function backupFixture(t: { after: (fn: () => Promise<void>) => void }) {
  const { dir, cleanup } = await tempDir("ws-kill-");
  t.after(cleanup);
  const ws = path.join(dir, "workspace");
  const cloud = path.join(dir, "cloud");
  await bigWorkspace(ws);
  return { dir, ws, stateDir: path.join(dir, "state"), cloud, before: await treeFingerprint(ws), syncConfig: backupConfig(cloud) };
}

/** The local provider on `root` whose snapshot uploads fail (as a full disk or a lost network would), but for `keep`'s. */
function refusingWrites(root: string, keep: string): StorageProvider {
  const inner = createLocalProvider({ root }, { logger: silentLogger });
  return {
    ...inner,
    write: async (p, source, o) => {
      if (/backup-[^/]*\.tar\.gz(\.enc)?$/.test(p) && !p.endsWith(keep)) {
        source.destroy();
        throw new WorkspaceSyncError("NETWORK", "simulated: the upload failed", { retryable: true });
      }
      return inner.write(p, source, o);
    },
  };
}

async function namesIn(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir).catch(() => [] as string[])).sort();
}

test("backup killed with its snapshot stored but not its MAC file (or, unencrypted, its checksum): the next backup from that state folder removes it", async (t) => {
  for (const encrypt of [true, false]) {
    const { dir, ws, stateDir, cloud } = await backupFixture(t);
    const syncConfig = { backup: { ...backupConfig(cloud).backup, encrypt, ...(encrypt ? {} : { passphrase: undefined }) } };
    // Encrypted: at the MAC file's write. Unencrypted: at the checksum's (the second write of a `.sha256`: the first is the name claim).
    const run = await runChild({ op: "backup", syncConfig, workspaceDir: ws, stateDir, freezeAtWrite: encrypt ? { suffix: ".mac" } : { suffix: ".sha256", nth: 2 } });
    assert.ok(run.killed, `the child was killed (stdout: ${run.stdout}, stderr: ${run.stderr})`);
    const dead = (await namesIn(cloud)).filter((n) => /^backup-[^.]*\.tar\.gz(\.enc)?$/.test(n));
    assert.equal(dead.length, 1, "the dead backup's snapshot is stored");
    assert.ok(parseChecksumClaim(await fsp.readFile(path.join(cloud, `${dead[0]}.sha256`), "utf8")), "beside its name claim");

    // A next backup that fails (its upload refused) leaves the dead backup's snapshot: it goes only once a new one is stored.
    const failing = await runBackup({ syncConfig, workspaceDir: ws, stateDir, now: () => new Date(Date.now() + 3_000), provider: refusingWrites(cloud, dead[0]!) });
    assert.equal(failing.ok, false);
    assert.ok((await namesIn(cloud)).includes(dead[0]!), "kept while no newer backup is stored");
    const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir, now: () => new Date(Date.now() + 5_000) });
    assert.ok(b.ok, JSON.stringify(b));
    const sidecars = encrypt ? [`${b.snapshotName}.mac`, `${b.snapshotName}.sha256`] : [`${b.snapshotName}.sha256`];
    assert.deepEqual((await namesIn(cloud)).filter((n) => !n.startsWith(".ws-tmp-")), [b.snapshotName, ...sidecars].sort(), `the dead backup's snapshot and claim are gone (encrypt: ${encrypt})`);
    void dir;
  }
});

test("backup killed mid-upload (local): no snapshot is listed; the next backup and its restore are complete", async (t) => {
  const { dir, ws, stateDir, cloud, before, syncConfig } = await backupFixture(t);

  const run = await runChild({ op: "backup", syncConfig, workspaceDir: ws, stateDir, freezeAfterBytes: 8 * MiB });
  assert.ok(run.killed, `the child was killed mid-backup (stdout: ${run.stdout}, stderr: ${run.stderr})`);
  // Only an invisible temp file and the name claim (a checksum file holding a claim line) may remain.
  for (const name of await namesIn(cloud)) {
    if (/^backup-.*\.sha256$/.test(name)) assert.ok(parseChecksumClaim(await fsp.readFile(path.join(cloud, name), "utf8")), `leftover ${name} is a name claim`);
    else assert.match(name, /^\.ws-tmp-/, `leftover ${name}`);
  }
  const listed = await listBackupSnapshots({ syncConfig, stateDir });
  assert.ok(listed.ok);
  assert.deepEqual(listed.snapshots, []);
  const restoreNothing = await runRestore({ syncConfig, workspaceDir: ws, stateDir, snapshotName: "latest", restoreTo: path.join(dir, "r0") });
  assert.equal(restoreNothing.ok, false);
  assert.equal(!restoreNothing.ok && restoreNothing.code, "SNAPSHOT_NOT_FOUND");
  assert.deepEqual(treeDiff(before, await treeFingerprint(ws)), [], "the workspace is untouched");

  const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir });
  assert.ok(b.ok, JSON.stringify(b));
  const visible = (await namesIn(cloud)).filter((n) => !n.startsWith(".ws-tmp-"));
  assert.deepEqual(visible, [b.snapshotName, `${b.snapshotName}.mac`, `${b.snapshotName}.sha256`].sort(), "the dead backup's name claim was removed");
  const again = await listBackupSnapshots({ syncConfig, stateDir });
  assert.ok(again.ok);
  assert.deepEqual(again.snapshots, [b.snapshotName]);
  const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir, snapshotName: "latest", restoreTo: path.join(dir, "restored") });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.verified, true);
  assert.deepEqual(treeDiff(before, await treeFingerprint(path.join(dir, "restored", "workspace"))), []);
});

test("backup killed mid-upload (S3 multipart): no object, and the next backup aborts its pending upload", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const { dir, ws, stateDir } = await backupFixture(t);
  const syncConfig = {
    backup: {
      enabled: true,
      provider: "s3",
      s3: { endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true, partSizeMiB: 5 },
      bucket: s3.bucket,
      encrypt: true,
      passphrase: PASS,
      include: ["workspace"],
    },
  };
  // Frozen once the first 5 MiB part is stored: the multipart upload then certainly exists.
  const run = await runChild({ op: "backup", syncConfig, workspaceDir: ws, stateDir, freezeAfterStoredBytes: 5 * MiB });
  assert.ok(run.killed, `the child was killed mid-backup (stdout: ${run.stdout}, stderr: ${run.stderr})`);
  const raw = testS3Client(t, s3);
  const objects = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  const left = (objects.Contents ?? []).map((o) => o.Key ?? "");
  assert.equal(left.length, 1, "no object was created but the name claim");
  assert.match(left[0] ?? "", /^backup-.*\.tar\.gz\.enc\.sha256$/);
  const pending = await raw.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
  assert.ok((pending.Uploads?.length ?? 0) >= 1, "the killed upload is pending (invisible)");
  const listed = await listBackupSnapshots({ syncConfig, stateDir });
  assert.ok(listed.ok);
  assert.deepEqual(listed.snapshots, []);

  const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir });
  assert.ok(b.ok, JSON.stringify(b));
  const now = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  assert.deepEqual((now.Contents ?? []).map((o) => o.Key).sort(), [b.snapshotName, `${b.snapshotName}.mac`, `${b.snapshotName}.sha256`].sort(), "the dead backup's claim is gone");
  const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir, snapshotName: "latest", restoreTo: path.join(dir, "restored") });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(treeDiff(await treeFingerprint(ws), await treeFingerprint(path.join(dir, "restored", "workspace"))), []);
  // The dead backup's pending upload was aborted by the next backup (its claim and record said whose it was).
  const after = await raw.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
  assert.equal(after.Uploads?.length ?? 0, 0);
});

test("restore killed mid-extraction: the workspace is untouched, only a marked partial folder is left, and restoring again into the same place is exact", async (t) => {
  const { dir, ws, stateDir, cloud, before, syncConfig } = await backupFixture(t);
  const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir });
  assert.ok(b.ok, JSON.stringify(b));

  const staging = path.join(dir, "staging");
  const run = await runChild({ op: "restore", syncConfig, workspaceDir: ws, stateDir, snapshotName: "latest", restoreTo: staging, freezeAfterBytes: 8 * MiB });
  assert.ok(run.killed, `the child was killed mid-restore (stdout: ${run.stdout}, stderr: ${run.stderr})`);
  assert.deepEqual(treeDiff(before, await treeFingerprint(ws)), [], "restore never touches the workspace");
  assert.deepEqual(await namesIn(cloud), [b.snapshotName, `${b.snapshotName}.mac`, `${b.snapshotName}.sha256`].sort(), "the snapshot is intact");

  // Nothing under the names the user asked for: only the marked partial folder ...
  const left = await fsp.readdir(staging);
  assert.equal(left.length, 1);
  assert.match(left[0] ?? "", /^\.ws-restore-partial-/);
  // ... which the next restore into the same place removes before it reproduces the workspace exactly.
  const same = await runRestore({ syncConfig, workspaceDir: ws, stateDir, snapshotName: "latest", restoreTo: staging });
  assert.ok(same.ok, JSON.stringify(same));
  assert.deepEqual(treeDiff(before, await treeFingerprint(path.join(staging, "workspace"))), []);
  assert.ok(!(await fsp.readdir(staging)).some((n) => n.startsWith(".ws-restore-partial-")));
});

function bisyncSettings(): SyncSettings {
  return syncSettings({ exclude: [], concurrency: 1 });
}

/** Every regular file under `root` (temp files included) with its content. */
async function filesOf(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const visit = async (d: string, rel: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await visit(path.join(d, e.name), r);
      else if (e.isFile()) out.set(r, await fsp.readFile(path.join(d, e.name)));
    }
  };
  await visit(root, "");
  return out;
}

for (const where of ["download", "upload"] as const) {
  const article = where === "upload" ? "an" : "a";
  test(`bisync killed in the middle of ${article} ${where}: no half-written file under a real name; the next bisync converges`, async (t) => {
    const { dir, cleanup } = await tempDir("ws-kill-");
    t.after(cleanup);
    const ws = path.join(dir, "ws");
    const cloud = path.join(dir, "cloud");
    const stateDir = path.join(dir, "state");
    const cloudFiles = new Map<string, Buffer>();
    const localFiles = new Map<string, Buffer>();
    for (let i = 0; i < 4; i++) cloudFiles.set(`from-cloud/c${i}.bin`, randomBytes(MiB));
    for (let i = 0; i < 4; i++) localFiles.set(`from-ws/w${i}.bin`, randomBytes(MiB));
    const provider = createLocalProvider({ root: cloud });
    for (const [rel, data] of cloudFiles) await provider.write(`share/${rel}`, Readable.from([data]));
    await writeTree(ws, Object.fromEntries(localFiles));

    const job: ChildJob = { op: "bisync", settings: bisyncSettings(), cloudRoot: cloud, workspaceDir: ws, stateDir, freezeAfterBytes: 300 * 1024 };
    if (where === "download") job.freezeInDownload = 2;
    else job.freezeInUpload = 2;
    const run = await runChild(job);
    assert.ok(run.killed, `the child was killed mid-${where} (stdout: ${run.stdout}, stderr: ${run.stderr})`);

    // Whatever is in the workspace or the cloud under a real name is complete.
    const all = new Map([...cloudFiles, ...localFiles]);
    for (const [rel, data] of await filesOf(ws)) {
      if (path.basename(rel).startsWith(".ws-sync-")) continue; // a temp download, never under a real name
      assert.ok(all.get(rel)?.equals(data), `workspace file ${rel} is complete`);
    }
    for (const [rel, data] of await filesOf(path.join(cloud, "share"))) {
      if (path.basename(rel).startsWith(".ws-tmp-")) continue;
      assert.ok(all.get(rel)?.equals(data), `cloud file ${rel} is complete`);
    }
    assert.ok(await fsp.access(path.join(cloud, "share", "from-cloud")).then(() => true), "cloud originals remain");

    const r = await runSyncWithProvider({ settings: bisyncSettings(), provider, workspaceDir: ws, stateDir });
    assert.ok(r.ok, r.ok ? "" : `${r.code}: ${r.error}`);
    // A download temp file left by the killed run is never synced; once it is an hour old (no run
    // can still be writing it) the next run removes it.
    const temps = [...(await filesOf(ws)).keys()].filter((k) => path.basename(k).startsWith(".ws-sync-"));
    if (where === "download") assert.ok(temps.length >= 1, "the killed download left its temp file, not a half file");
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const k of temps) await fsp.utimes(path.join(ws, k), old, old);
    const cleaned = await runSyncWithProvider({ settings: bisyncSettings(), provider, workspaceDir: ws, stateDir });
    assert.ok(cleaned.ok);
    const wsAfter = await filesOf(ws);
    const cloudAfter = await filesOf(path.join(cloud, "share"));
    for (const name of [...wsAfter.keys()]) assert.ok(!path.basename(name).startsWith(".ws-sync-"), `stale temp ${name} was removed`);
    const visibleCloud = [...cloudAfter.keys()].filter((k) => !path.basename(k).startsWith(".ws-tmp-"));
    assert.deepEqual([...wsAfter.keys()].sort(), [...all.keys()].sort(), "the workspace holds every file");
    assert.deepEqual(visibleCloud.sort(), [...all.keys()].sort(), "the cloud holds every file");
    for (const [rel, data] of all) {
      assert.ok(wsAfter.get(rel)?.equals(data), `workspace ${rel} intact`);
      assert.ok(cloudAfter.get(rel)?.equals(data), `cloud ${rel} intact`);
    }
    const again = await runSyncWithProvider({ settings: bisyncSettings(), provider, workspaceDir: ws, stateDir });
    assert.ok(again.ok);
    assert.deepEqual([again.uploaded, again.downloaded, again.deleted, again.conflicts], [[], [], [], []], "converged");
  });
}
