/**
 * A restored folder without write permission (0555) at the top of the snapshot: a user other than
 * root can only move a folder to another parent while it is writable, so the restore makes it
 * writable for the move and gives its mode back right after. A move that fails leaves no half
 * restore in the target.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { moveIntoPlace } from "../src/backup/restore-move.js";
import { tempDir } from "./support/tree.js";

const NAME = "backup-20250101T000000Z.tar.gz";

/** Whether this process can run a command as `nobody` (root with setpriv). */
function canRunAsNobody(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "true"]).status === 0;
}

test("a read-only top-level folder restores for a user other than root, mode and time kept", { skip: !canRunAsNobody() && "needs root and setpriv to run as nobody" }, async (t) => {
  const { dir, cleanup } = await tempDir("ws-readonly-");
  t.after(async () => {
    execFileSync("chmod", ["-R", "u+rwX", dir]);
    await cleanup();
  });
  const src = path.join(dir, "src");
  await fsp.mkdir(path.join(src, "ro", "sub"), { recursive: true });
  await fsp.writeFile(path.join(src, "ro", "f.txt"), "f\n");
  await fsp.writeFile(path.join(src, "top.txt"), "top\n");
  await fsp.chmod(path.join(src, "ro", "sub"), 0o555);
  await fsp.chmod(path.join(src, "ro"), 0o555);
  await fsp.utimes(path.join(src, "ro"), 1600000000, 1600000000);
  const root = path.join(dir, "cloud");
  await fsp.mkdir(root);
  execFileSync("tar", ["-czf", path.join(root, NAME), "-C", src, "ro", "top.txt"]);
  execFileSync("chown", ["-R", "nobody", dir]);
  const restoreTo = path.join(dir, "r");
  const params = {
    syncConfig: { backup: { enabled: true, provider: "local", local: { root }, encrypt: false } },
    workspaceDir: path.join(dir, "ws"),
    stateDir: path.join(dir, "state"),
    snapshotName: NAME,
    restoreTo,
  };
  const script = `import { runRestore } from ${JSON.stringify(path.resolve(import.meta.dirname, "../src/backup/index.js"))};
process.stdout.write(JSON.stringify(await runRestore(${JSON.stringify(params)})));`;
  const r = spawnSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { ok: boolean };
  assert.ok(result.ok, r.stdout);
  assert.deepEqual((await fsp.readdir(restoreTo)).sort(), ["ro", "top.txt"], "the staging folder is gone");
  const st = await fsp.stat(path.join(restoreTo, "ro"));
  assert.equal(st.mode & 0o777, 0o555);
  assert.equal(Math.floor(st.mtimeMs / 1000), 1600000000);
  assert.equal((await fsp.stat(path.join(restoreTo, "ro", "sub"))).mode & 0o777, 0o555);
  assert.equal(await fsp.readFile(path.join(restoreTo, "ro", "f.txt"), "utf8"), "f\n");
});

test("a move that fails puts back what was moved: the target holds no half restore", async (t) => {
  const { dir, cleanup } = await tempDir("ws-readonly-");
  t.after(async () => {
    execFileSync("chmod", ["-R", "u+rwX", dir]);
    await cleanup();
  });
  const partial = path.join(dir, "target", ".staging");
  await fsp.mkdir(path.join(partial, "a"), { recursive: true });
  await fsp.writeFile(path.join(partial, "b"), "b\n");
  await fsp.chmod(path.join(partial, "a"), 0o555);
  // Something in the way of "b" (moved after "a"): a folder with content, which a file can not replace.
  await fsp.mkdir(path.join(dir, "target", "b", "in-the-way"), { recursive: true });
  await assert.rejects(moveIntoPlace(partial, path.join(dir, "target")), (err: NodeJS.ErrnoException) => err.name === "WorkspaceSyncError");
  assert.deepEqual((await fsp.readdir(path.join(dir, "target"))).sort(), [".staging", "b"]);
  assert.deepEqual((await fsp.readdir(partial)).sort(), ["a", "b"]);
  assert.equal((await fsp.stat(path.join(partial, "a"))).mode & 0o777, 0o555, "its mode is given back");
});

test("a read-only folder whose mode or time cannot be set back after its move is moved back too", async (t) => {
  const { dir, cleanup } = await tempDir("ws-restore-move-times-");
  t.after(cleanup);
  const partial = path.join(dir, "partial");
  const target = path.join(dir, "target");
  for (const name of ["a", "ro", "c"]) await fsp.mkdir(path.join(partial, name), { recursive: true });
  await fsp.writeFile(path.join(partial, "ro", "f.txt"), "f");
  await fsp.chmod(path.join(partial, "ro"), 0o555);
  await fsp.mkdir(target);
  // Setting times fails in the target (a file system refusing it): after `ro` was renamed there.
  const utimes = fsp.utimes;
  fsp.utimes = (async (p: Parameters<typeof utimes>[0], ...rest: [Parameters<typeof utimes>[1], Parameters<typeof utimes>[2]]) => {
    if (String(p).startsWith(target)) throw Object.assign(new Error("EIO: i/o error, utime"), { code: "EIO" });
    return utimes(p, ...rest);
  }) as typeof utimes;
  t.after(() => {
    fsp.utimes = utimes;
  });
  await assert.rejects(moveIntoPlace(partial, target), (err: NodeJS.ErrnoException) => err.name === "WorkspaceSyncError" && /EIO/.test(err.message));
  fsp.utimes = utimes;
  assert.deepEqual(await fsp.readdir(target), [], "nothing of the restore is left in the target");
  assert.deepEqual((await fsp.readdir(partial)).sort(), ["a", "c", "ro"]);
  assert.equal((await fsp.stat(path.join(partial, "ro"))).mode & 0o777, 0o555, "its mode back");
  await fsp.chmod(path.join(partial, "ro"), 0o755);
});
