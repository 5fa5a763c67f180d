/**
 * `WorkspaceFs.removeOwnTree` (a failed cross-device inbox copy's temp folder) removes a copy
 * whose folders took a read-only mode from their source: it gives the owner write and search back
 * through the folder's descriptor first, as a user's process (not root) needs. Root passes every
 * permission check, so under root the removal runs in a child process as the user `nobody`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const NOBODY = 65534;
const safeFs = pathToFileURL(path.join(path.dirname(new URL(import.meta.url).pathname), "..", "src", "util", "safe-fs.js")).href;

/**
 * Runs `removeOwnTree(rel)` on workspace `ws`, as `nobody` when this process is root. `nobody` may
 * not reach this Node binary (one under `/root`, as `npx -p node@24` installs it): it runs a link to
 * it (or a copy) in `binDir`.
 */
async function removeAsUser(ws: string, rel: string, binDir: string): Promise<void> {
  const code = `const { WorkspaceFs } = await import(${JSON.stringify(safeFs)}); const { lstat } = await import("node:fs/promises"); const made = await lstat(${JSON.stringify(path.join(ws, rel))}); await (await WorkspaceFs.open(${JSON.stringify(ws)})).removeOwnTree(${JSON.stringify(rel)}, made);`;
  const asRoot = process.getuid?.() === 0;
  let bin = process.execPath;
  if (asRoot) {
    bin = path.join(binDir, "node");
    await fsp.link(process.execPath, bin).catch(() => fsp.copyFile(process.execPath, bin));
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn(bin, ["--input-type=module", "-e", code], { stdio: ["ignore", "inherit", "inherit"], ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}) });
    child.on("error", reject);
    child.on("close", (c) => (c === 0 ? resolve() : reject(new Error(`the removal exited ${c}`))));
  });
}

async function chownTree(dir: string, uid: number): Promise<void> {
  await fsp.lchown(dir, uid, uid);
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, uid);
    else await fsp.lchown(p, uid, uid);
  }
}

test("a temp copy with read-only folders (0o555, 0o500, 0o300; itself too) is removed whole, and nothing beside it", async (t) => {
  const root = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "ws-remove-own-")));
  t.after(async () => {
    await fsp.chmod(root, 0o700).catch(() => undefined);
    await fsp.rm(root, { recursive: true, force: true });
  });
  const ws = path.join(root, "ws");
  const tmp = path.join(ws, "docs", ".ws-sync-0123456789abcdef-0003.tmp");
  for (const sub of ["ro", "ro/deeper", "wx"]) {
    await fsp.mkdir(path.join(tmp, sub), { recursive: true });
    await fsp.writeFile(path.join(tmp, sub, "copied.txt"), "COPY");
  }
  await fsp.writeFile(path.join(ws, "docs", "keep.txt"), "USER");
  if (process.getuid?.() === 0) {
    await fsp.chmod(root, 0o755);
    await chownTree(ws, NOBODY);
  }
  // Modes last, deepest first (a read-only folder takes no new names).
  for (const [sub, mode] of [["ro/deeper", 0o500], ["ro", 0o555], ["wx", 0o300], ["", 0o555]] as const) await fsp.chmod(path.join(tmp, sub), mode);
  await removeAsUser(ws, "docs/.ws-sync-0123456789abcdef-0003.tmp", root);
  assert.deepEqual(await fsp.readdir(path.join(ws, "docs")), ["keep.txt"], "the temp copy is gone, the user's file stays");
});
