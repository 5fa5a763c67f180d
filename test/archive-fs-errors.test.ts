/**
 * Local file-system errors while extracting (a name too long for the file system, something in the
 * way, too many open files) come back as typed errors naming the archive entry and the fix, not as
 * `PROVIDER_ERROR` with the system's message.
 */
import assert from "node:assert/strict";
import { createReadStream, promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { extractArchive } from "../src/archive/index.js";
import { extractionFsError } from "../src/archive/fs-errors.js";
import { runRestore } from "../src/backup/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { pythonTarGz } from "./archive-helpers.js";
import { tempDir } from "./support/tree.js";

const LONG = "n".repeat(300);

for (const [label, body] of [
  ["a small file", `add('d/${LONG}', data=b'x')`],
  ["a large file", `add('d/${LONG}', data=b'x' * (1024 * 1024))`],
  ["a folder", `add('d/${LONG}', 'dir')`],
  ["a symlink", `add('d/${LONG}', 'sym', 'x')`],
] as const) {
  test(`a 300-character name (${label}) fails with INVALID_PATH naming the entry, in extract and restore`, async (t) => {
    const { dir, cleanup } = await tempDir("ws-fserr-");
    t.after(cleanup);
    const file = path.join(dir, "a.tgz");
    pythonTarGz(file, body);
    await assert.rejects(extractArchive(createReadStream(file), path.join(dir, "out")), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, "INVALID_PATH", err.message);
      assert.match(err.message, /"d\/n{300}"/);
      assert.match(err.message, /too long/);
      return true;
    });
    const root = path.join(dir, "cloud");
    await fsp.mkdir(root);
    await fsp.copyFile(file, path.join(root, "backup-20250101T000000Z.tar.gz"));
    const r = await runRestore({
      syncConfig: { backup: { enabled: true, provider: "local", local: { root }, encrypt: false } },
      workspaceDir: path.join(dir, "ws"),
      stateDir: path.join(dir, "state"),
      snapshotName: "backup-20250101T000000Z.tar.gz",
      restoreTo: path.join(dir, "r"),
    });
    assert.equal(r.ok ? "ok" : r.code, "INVALID_PATH", JSON.stringify(r));
    await assert.rejects(fsp.stat(path.join(dir, "r")), /ENOENT/);
  });
}

function sysErr(code: string, p: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, open '${p}'`), { code, syscall: "open", path: p });
}

test("each local error gets a fitting code, the entry at its path, and the fix (pure)", () => {
  const cases: [string, string, RegExp][] = [
    ["ELOOP", "UNSAFE_ARCHIVE_ENTRY", /new folder/],
    ["EISDIR", "UNSAFE_ARCHIVE_ENTRY", /new folder/],
    ["EMFILE", "INTERNAL_ERROR", /ulimit -n/],
    ["ENAMETOOLONG", "INVALID_PATH", /too long/],
    ["EROFS", "ACCESS_DENIED", /not writable/],
  ];
  for (const [code, expected, fix] of cases) {
    const e = extractionFsError(sysErr(code, "/restore/a/b.txt"), "/restore", "other");
    assert.ok(isWorkspaceSyncError(e), code);
    assert.equal(e.code, expected, code);
    assert.match(e.message, /"a\/b\.txt"/);
    assert.match(e.message, fix);
  }
  // Outside the root (or no path): the entry being extracted.
  const e = extractionFsError(sysErr("EMFILE", "/elsewhere/x"), "/restore", "c.txt");
  assert.ok(isWorkspaceSyncError(e) && /"c\.txt"/.test(e.message));
  // Not a system call's error (a stream's own failure): left for the reader to classify.
  const destroyed = Object.assign(new Error("Stream was destroyed"), { code: "STREAM_DESTROYED" });
  assert.equal(extractionFsError(destroyed, "/restore", "x"), destroyed);
});
