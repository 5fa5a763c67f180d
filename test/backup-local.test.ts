/**
 * Backup → list → restore end to end on the local provider, interoperability with the openssl and
 * tar command lines in both directions, and the failure cases (wrong passphrase, truncated and
 * corrupted snapshots, missing snapshot, empty include set, failing upload, hostile archive).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { pipeline } from "node:stream/promises";
import { createWriteStream } from "node:fs";
import { pack as tarPack } from "tar-stream";
import { listBackupSnapshots, runBackup, runRestore } from "../src/backup/index.js";
import { verifySnapshots } from "../src/backup/verify.js";
import { walkIncludeSet } from "../src/archive/index.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { expectedWorkspace, sampleAgent, tempDir, treeDiff, treeFingerprint } from "./support/tree.js";
import { assertListedAndRestored } from "./support/round-trip.js";

const PASS = "correct horse battery staple ✓ $HOME `x`";

function config(root: string, extra: Record<string, unknown> = {}) {
  return { backup: { enabled: true, provider: "local", local: { root }, encrypt: true, passphrase: PASS, ...extra } };
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const { dir, cleanup } = await tempDir("ws-backup-");
  t.after(cleanup);
  const agent = await sampleAgent(dir);
  const root = path.join(dir, "cloud");
  return { dir, root, ...agent };
}

test("encrypted round trip: the restored tree equals the source (content, modes, mtimes, links)", async (t) => {
  const { dir, root, workspaceDir, stateDir } = await setup(t);
  const syncConfig = config(root);
  const b = await runBackup({ syncConfig, workspaceDir, stateDir });
  assert.ok(b.ok, JSON.stringify(b));
  assert.match(b.snapshotName, /^backup-\d{8}T\d{6}Z\.tar\.gz\.enc$/);
  assert.equal(b.encrypted, true);
  const stored = await fsp.stat(path.join(root, b.snapshotName));
  assert.equal(stored.size, b.sizeBytes);
  const counted = await walkIncludeSet({ workspaceDir, stateDir });
  assert.equal(b.plainBytes, counted.totalBytes, "the bytes read while packing are the file content, hard links once");
  const head = (await fsp.readFile(path.join(root, b.snapshotName))).subarray(0, 8).toString("latin1");
  assert.equal(head, "Salted__");

  const restoreTo = path.join(dir, "restored");
  await assertListedAndRestored({ syncConfig, workspaceDir, stateDir, snapshotName: b.snapshotName, restoreTo });
  // The other default items land at the archive root under their basenames, as in the plugin.
  assert.equal(await fsp.readFile(path.join(restoreTo, "openclaw.json"), "utf8"), '{"agents":{}}\n');
  assert.equal(await fsp.readFile(path.join(restoreTo, "cron", "jobs.json"), "utf8"), "[]\n");
  assert.equal(await fsp.readFile(path.join(restoreTo, "memory", "MEMORY.md"), "utf8"), "# memory\n- likes tea\n");
});

test("unencrypted backups are named .tar.gz and restore to the default staging folder", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  const syncConfig = config(root, { encrypt: false, passphrase: undefined });
  const b = await runBackup({ syncConfig, workspaceDir, stateDir });
  assert.ok(b.ok);
  assert.match(b.snapshotName, /\.tar\.gz$/);
  const r = await runRestore({ syncConfig, workspaceDir, stateDir, snapshotName: b.snapshotName });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.restoredTo, path.join(stateDir, ".backup-restore", b.snapshotName));
  assert.deepEqual(treeDiff(await expectedWorkspace(workspaceDir), await treeFingerprint(path.join(r.restoredTo, "workspace"))), []);
});

test("openssl enc -d | tar -xz (the command lines) read our snapshot", async (t) => {
  const { dir, root, workspaceDir, stateDir } = await setup(t);
  const b = await runBackup({ syncConfig: config(root), workspaceDir, stateDir });
  assert.ok(b.ok);
  const out = path.join(dir, "cli-out");
  await fsp.mkdir(out);
  execFileSync("sh", ["-c", 'openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass env:PASS -in "$1" | tar -xz -C "$2"', "sh", path.join(root, b.snapshotName), out], {
    env: { ...process.env, PASS },
  });
  assert.deepEqual(treeDiff(await expectedWorkspace(workspaceDir), await treeFingerprint(path.join(out, "workspace"))), []);
  // sha256sum can check the checksum file we store beside the snapshot.
  execFileSync("sha256sum", ["-c", `${b.snapshotName}.sha256`], { cwd: root, stdio: "ignore" });
});

for (const variant of [
  { name: "-pbkdf2 -iter 100000", args: "-pbkdf2 -iter 100000", iterations: undefined },
  { name: "-pbkdf2 -iter 5000 (iterations from config)", args: "-pbkdf2 -iter 5000", iterations: 5000 },
  { name: "-md sha256 (OpenSSL >= 1.1 legacy default)", args: "-md sha256", iterations: undefined },
  { name: "-md md5 (OpenSSL 1.0 / LibreSSL)", args: "-md md5", iterations: undefined },
]) {
  test(`our restore reads snapshots made by tar -cz | openssl enc ${variant.name}`, async (t) => {
    const { dir, root, workspaceDir, stateDir } = await setup(t);
    await fsp.mkdir(root, { recursive: true });
    const name = "backup-20250102T030405Z.tar.gz.enc";
    // As the plugin ran it: tar -cz of the items (memory inside workspace → GNU hard-link entries).
    execFileSync(
      "sh",
      [
        "-c",
        `tar -cz --exclude=.git --exclude=node_modules -C "$1" workspace -C "$1/workspace" memory -C "$2" openclaw.json cron | openssl enc -aes-256-cbc -salt ${variant.args} -pass env:PASS -out "$3"`,
        "sh",
        path.dirname(workspaceDir),
        stateDir,
        path.join(root, name),
      ],
      { env: { ...process.env, PASS } },
    );
    const r = await runRestore({
      syncConfig: config(root, variant.iterations ? { kdfIterations: variant.iterations } : {}),
      workspaceDir,
      stateDir,
      snapshotName: "latest",
      restoreTo: path.join(dir, "r"),
    });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.snapshotName, name);
    assert.equal(r.verified, false, "no checksum file was stored by the CLI pipeline");
    assert.deepEqual(treeDiff(await expectedWorkspace(workspaceDir), await treeFingerprint(path.join(dir, "r", "workspace"))), []);
    assert.equal(await fsp.readFile(path.join(dir, "r", "memory", "MEMORY.md"), "utf8"), "# memory\n- likes tea\n");
  });
}

test("wrong passphrase: a typed error and nothing written", async (t) => {
  const { dir, root, workspaceDir, stateDir } = await setup(t);
  const b = await runBackup({ syncConfig: config(root), workspaceDir, stateDir });
  assert.ok(b.ok);
  const restoreTo = path.join(dir, "r");
  const r = await runRestore({ syncConfig: config(root, { passphrase: "not the passphrase" }), workspaceDir, stateDir, snapshotName: b.snapshotName, restoreTo });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, "WRONG_PASSPHRASE");
  assert.match(!r.ok ? r.error : "", /passphrase/i);
  assert.ok(!r.ok && !r.error.includes("not the passphrase"), "the passphrase never appears in errors");
  await assert.rejects(fsp.stat(restoreTo), /ENOENT/);
});

async function damagedRestore(t: Parameters<typeof setup>[0], damage: (file: string) => Promise<void>, keepChecksum: boolean) {
  const { dir, root, workspaceDir, stateDir } = await setup(t);
  const b = await runBackup({ syncConfig: config(root), workspaceDir, stateDir });
  assert.ok(b.ok);
  await damage(path.join(root, b.snapshotName));
  if (!keepChecksum) await fsp.rm(path.join(root, `${b.snapshotName}.sha256`));
  const restoreTo = path.join(dir, "r");
  const r = await runRestore({ syncConfig: config(root), workspaceDir, stateDir, snapshotName: b.snapshotName, restoreTo });
  await assert.rejects(fsp.stat(restoreTo), /ENOENT/, "a failed restore leaves no staging folder");
  assert.equal(r.ok, false);
  return r.ok ? "" : r.code;
}

const truncate = async (file: string) => {
  const buf = await fsp.readFile(file);
  await fsp.writeFile(file, buf.subarray(0, Math.floor(buf.length / 2)));
};
const flipMiddle = async (file: string) => {
  const buf = await fsp.readFile(file);
  const i = Math.floor(buf.length / 2);
  buf[i] = (buf[i] as number) ^ 0x40;
  await fsp.writeFile(file, buf);
};

test("truncated snapshot: SNAPSHOT_TRUNCATED, with or without its checksum file (the MAC file records the size)", async (t) => {
  assert.equal(await damagedRestore(t, truncate, false), "SNAPSHOT_TRUNCATED");
  assert.equal(await damagedRestore(t, truncate, true), "SNAPSHOT_TRUNCATED");
});

test("a corrupted middle block never restores silently: the MAC says it was changed", async (t) => {
  assert.equal(await damagedRestore(t, flipMiddle, false), "SNAPSHOT_TAMPERED");
  assert.equal(await damagedRestore(t, flipMiddle, true), "SNAPSHOT_TAMPERED");
});

test("backup verify: OK for a good snapshot, damaged after a flipped bit", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  const syncConfig = config(root);
  const b = await runBackup({ syncConfig, workspaceDir, stateDir });
  assert.ok(b.ok);
  const good = await verifySnapshots({ syncConfig, stateDir, snapshotName: "all" });
  assert.ok(good.ok && good.snapshots.length === 1 && good.snapshots[0]?.ok && good.snapshots[0].checksum);
  await flipMiddle(path.join(root, b.snapshotName));
  const bad = await verifySnapshots({ syncConfig, stateDir, snapshotName: b.snapshotName });
  assert.ok(bad.ok);
  assert.equal(bad.snapshots[0]?.ok, false);
  assert.equal(bad.snapshots[0]?.ok === false && bad.snapshots[0].code, "SNAPSHOT_TAMPERED");
});

test("missing snapshot and empty snapshot folder give SNAPSHOT_NOT_FOUND", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  const latest = await runRestore({ syncConfig: config(root), workspaceDir, stateDir, snapshotName: "latest" });
  assert.equal(!latest.ok && latest.code, "SNAPSHOT_NOT_FOUND");
  const named = await runRestore({ syncConfig: config(root), workspaceDir, stateDir, snapshotName: "backup-20200101T000000Z.tar.gz.enc" });
  assert.equal(!named.ok && named.code, "SNAPSHOT_NOT_FOUND");
  const escape = await runRestore({ syncConfig: config(root), workspaceDir, stateDir, snapshotName: "../../etc/passwd" });
  assert.equal(!escape.ok && escape.code, "SNAPSHOT_NOT_FOUND");
});

test("an empty include set is an error and stores nothing", async (t) => {
  const { dir, root } = await setup(t);
  const r = await runBackup({ syncConfig: config(root), workspaceDir: path.join(dir, "nope"), stateDir: path.join(dir, "nope2") });
  assert.equal(!r.ok && r.code, "NO_BACKUP_SOURCES");
  await assert.rejects(fsp.readdir(root), /ENOENT/);
});

test("a provider write that throws midway leaves no snapshot visible in list", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  const local = createLocalProvider({ root });
  // The real local provider, fed a stream that breaks after 1 KiB (a network drop, a full disk).
  const failing: StorageProvider = {
    ...local,
    write(p: string, source: Readable, opts) {
      if (!p.endsWith(".enc")) return local.write(p, source, opts);
      let n = 0;
      const breaker = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          n += chunk.length;
          cb(n > 1024 ? new Error("connection reset by peer") : null, chunk);
        },
      });
      return local.write(p, source.pipe(breaker), opts);
    },
  };
  const r = await runBackup({ syncConfig: config(root), workspaceDir, stateDir, provider: failing });
  assert.equal(r.ok, false);
  const list = await listBackupSnapshots({ syncConfig: config(root), stateDir });
  assert.ok(list.ok);
  assert.deepEqual(list.snapshots, []);
  assert.deepEqual(await fsp.readdir(root).catch(() => []), [], "no temp file or checksum file left behind");
});

test("an aborted backup leaves nothing behind", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  await fsp.writeFile(path.join(workspaceDir, "big.bin"), Buffer.alloc(20 * 1024 * 1024, 7));
  const controller = new AbortController();
  const local = createLocalProvider({ root });
  const provider: StorageProvider = {
    ...local,
    write(p, source, opts) {
      source.once("data", () => controller.abort(new Error("stop requested")));
      return local.write(p, source, opts);
    },
  };
  const r = await runBackup({ syncConfig: config(root), workspaceDir, stateDir, provider, signal: controller.signal });
  assert.equal(!r.ok && r.code, "ABORTED");
  assert.deepEqual(await fsp.readdir(root).catch(() => []), []);
});

test("two backups in the same second do not overwrite each other", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  const now = () => new Date("2026-03-10T02:00:00.500Z");
  const syncConfig = config(root, { retain: { last: 10 } });
  const a = await runBackup({ syncConfig, workspaceDir, stateDir, now });
  const b = await runBackup({ syncConfig, workspaceDir, stateDir, now });
  assert.ok(a.ok && b.ok);
  assert.equal(a.snapshotName, "backup-20260310T020000Z.tar.gz.enc");
  assert.equal(b.snapshotName, "backup-20260310T020000Z-1.tar.gz.enc");
  const list = await listBackupSnapshots({ syncConfig, stateDir });
  assert.ok(list.ok);
  assert.deepEqual(list.snapshots, [b.snapshotName, a.snapshotName]);
});

test("retention runs after a backup and keeps the new snapshot", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  const syncConfig = config(root, { retain: 2 });
  const names: string[] = [];
  for (const day of [1, 2, 3, 4]) {
    const r = await runBackup({ syncConfig, workspaceDir, stateDir, now: () => new Date(Date.UTC(2026, 0, day, 12)) });
    assert.ok(r.ok);
    names.push(r.snapshotName);
  }
  const list = await listBackupSnapshots({ syncConfig, stateDir });
  assert.ok(list.ok);
  assert.deepEqual(list.snapshots, [names[3], names[2]]);
  const files = (await fsp.readdir(root)).sort();
  assert.deepEqual(
    files,
    [names[2], `${names[2]}.mac`, `${names[2]}.sha256`, names[3], `${names[3]}.mac`, `${names[3]}.sha256`].sort(),
    "checksum and MAC files are pruned with their snapshots",
  );
});

test("a hostile archive is refused at restore and nothing is written outside the target", async (t) => {
  const { dir, root, workspaceDir, stateDir } = await setup(t);
  await fsp.mkdir(root, { recursive: true });
  const name = "backup-20250101T000000Z.tar.gz";
  const p = tarPack();
  p.entry({ name: "workspace/ok.txt" }, "fine\n");
  p.entry({ name: "escape", type: "symlink", linkname: "../outside" });
  p.entry({ name: "escape/pwned.txt" }, "gotcha\n");
  p.finalize();
  await pipeline(p, createGzip(), createWriteStream(path.join(root, name)));
  const restoreTo = path.join(dir, "r");
  const r = await runRestore({ syncConfig: config(root, { encrypt: false }), workspaceDir, stateDir, snapshotName: name, restoreTo });
  assert.equal(!r.ok && r.code, "UNSAFE_ARCHIVE_ENTRY");
  assert.match(!r.ok ? r.error : "", /escape/);
  await assert.rejects(fsp.stat(path.join(dir, "outside")), /ENOENT/);
  await assert.rejects(fsp.stat(restoreTo), /ENOENT/);
});

test("a restore never writes into a non-empty folder and leaves it untouched", async (t) => {
  const { dir, root, workspaceDir, stateDir } = await setup(t);
  const b = await runBackup({ syncConfig: config(root), workspaceDir, stateDir });
  assert.ok(b.ok);
  const restoreTo = path.join(dir, "live");
  await fsp.mkdir(restoreTo);
  await fsp.writeFile(path.join(restoreTo, "keep.txt"), "live data\n");
  const r = await runRestore({ syncConfig: config(root), workspaceDir, stateDir, snapshotName: "latest", restoreTo });
  assert.equal(!r.ok && r.code, "TARGET_NOT_EMPTY");
  assert.deepEqual(await fsp.readdir(restoreTo), ["keep.txt"]);
  assert.equal(await fsp.readFile(path.join(restoreTo, "keep.txt"), "utf8"), "live data\n");
});

test("backup not enabled and missing passphrase give the plugin's errors", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  const off = await runBackup({ syncConfig: config(root, { enabled: false }), workspaceDir, stateDir });
  assert.equal(!off.ok && off.code, "BACKUP_NOT_ENABLED");
  const nopass = await runBackup({ syncConfig: config(root, { passphrase: undefined }), workspaceDir, stateDir });
  assert.equal(!nopass.ok && nopass.code, "PASSPHRASE_MISSING");
  assert.match(!nopass.ok ? nopass.error : "", /no passphrase configured/);
});

test("a symlink pointing outside the workspace: refused by default, then skip or allow on request", async (t) => {
  const { dir, root, workspaceDir, stateDir } = await setup(t);
  await fsp.symlink("/usr/share/doc", path.join(workspaceDir, "docs-link"));
  const b = await runBackup({ syncConfig: config(root), workspaceDir, stateDir });
  assert.ok(b.ok);
  const refused = await runRestore({ syncConfig: config(root), workspaceDir, stateDir, snapshotName: "latest", restoreTo: path.join(dir, "r1") });
  assert.equal(!refused.ok && refused.code, "UNSAFE_ARCHIVE_ENTRY");
  assert.match(!refused.ok ? refused.error : "", /docs-link.*externalSymlinks: "skip"/s);
  const skipped = await runRestore({ syncConfig: config(root), workspaceDir, stateDir, snapshotName: "latest", restoreTo: path.join(dir, "r2"), externalSymlinks: "skip" });
  assert.ok(skipped.ok, JSON.stringify(skipped));
  await assert.rejects(fsp.lstat(path.join(dir, "r2", "workspace", "docs-link")), /ENOENT/);
  assert.equal(await fsp.readFile(path.join(dir, "r2", "workspace", "notes", "today.md"), "utf8"), "note ".repeat(500));
  const allowed = await runRestore({ syncConfig: config(root), workspaceDir, stateDir, snapshotName: "latest", restoreTo: path.join(dir, "r3"), externalSymlinks: "allow" });
  assert.ok(allowed.ok);
  assert.equal(await fsp.readlink(path.join(dir, "r3", "workspace", "docs-link")), "/usr/share/doc");
});

test("a provider whose write fails without reading its input does not hang the backup", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  const local = createLocalProvider({ root });
  const provider: StorageProvider = { ...local, write: async () => Promise.reject(new Error("bucket is read-only")) };
  const r = await runBackup({ syncConfig: config(root), workspaceDir, stateDir, provider });
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.error : "", /read-only/);
});

test("two backups at once from one state folder: one runs, the other is refused as LOCKED", async (t) => {
  const { root, workspaceDir, stateDir } = await setup(t);
  const now = () => new Date("2026-03-10T02:00:00Z");
  const [a, b] = await Promise.all([runBackup({ syncConfig: config(root), workspaceDir, stateDir, now }), runBackup({ syncConfig: config(root), workspaceDir, stateDir, now })]);
  const codes = [a, b].map((r) => (r.ok ? "ok" : r.code)).sort();
  assert.deepEqual(codes, ["LOCKED", "ok"]);
  const list = await listBackupSnapshots({ syncConfig: config(root), stateDir });
  assert.ok(list.ok);
  assert.equal(list.snapshots.length, 1);
  const again = await runBackup({ syncConfig: config(root), workspaceDir, stateDir, now });
  assert.ok(again.ok, "the lock is released afterwards");
});
