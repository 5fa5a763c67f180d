/**
 * What the archive reader finds reaches `runRestore`'s result: entries it refuses (GNU sparse
 * files, names that are not valid UTF-8) as a typed error from restore and verify alike, and
 * entries it restores with a finding (an unsupported entry type skipped, a time out of range) as
 * warnings in `RunRestoreResult.warnings`, not only in the log.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs, { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { runRestore } from "../src/backup/index.js";
import { verifySnapshots } from "../src/backup/verify.js";
import { pythonTarGz } from "./archive-helpers.js";
import { tempDir } from "./support/tree.js";

const NAME = "backup-20250101T000000Z.tar.gz";

/** A local backup folder holding `tgz` as an unencrypted snapshot, and the config to read it. */
async function stored(dir: string, tgz: string) {
  const root = path.join(dir, "cloud");
  await fsp.mkdir(root, { recursive: true });
  await fsp.copyFile(tgz, path.join(root, NAME));
  const syncConfig = { backup: { enabled: true, provider: "local", local: { root }, encrypt: false } };
  return { syncConfig, stateDir: path.join(dir, "state"), workspaceDir: path.join(dir, "ws") };
}

test("skipped entry types and times out of range reach RunRestoreResult.warnings", async (t) => {
  const { dir, cleanup } = await tempDir("ws-findings-");
  t.after(cleanup);
  const src = path.join(dir, "src");
  await fsp.mkdir(src);
  await fsp.writeFile(path.join(src, "ok.txt"), "ok\n");
  const labelled = path.join(dir, "labelled.tgz");
  execFileSync("tar", ["-czf", labelled, "-V", "my-volume", "-C", src, "ok.txt"]); // a 'V' volume header entry
  const s = await stored(dir, labelled);
  const r = await runRestore({ ...s, snapshotName: NAME, restoreTo: path.join(dir, "r1") });
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok(r.warnings.some((w) => /my-volume/.test(w) && /unsupported entry type/.test(w)), JSON.stringify(r.warnings));
  assert.equal(await fsp.readFile(path.join(dir, "r1", "ok.txt"), "utf8"), "ok\n");

  const future = path.join(dir, "future.tgz");
  pythonTarGz(future, "i = tarfile.TarInfo('far.txt'); i.size = 1; i.mtime = 400000000000; t.addfile(i, io.BytesIO(b'x'))");
  await fsp.rm(path.join(dir, "cloud"), { recursive: true });
  const s2 = await stored(dir, future);
  const r2 = await runRestore({ ...s2, snapshotName: NAME, restoreTo: path.join(dir, "r2") });
  assert.ok(r2.ok, JSON.stringify(r2));
  assert.ok(r2.warnings.some((w) => /far\.txt/.test(w) && /modification time/.test(w)), JSON.stringify(r2.warnings));
});

for (const [label, make, shown] of [
  [
    "a GNU sparse file",
    (src: string, file: string) => {
      const fd = fs.openSync(path.join(src, "holes.bin"), "w");
      fs.writeSync(fd, "data", 2 * 1024 * 1024);
      fs.ftruncateSync(fd, 4 * 1024 * 1024);
      fs.closeSync(fd);
      execFileSync("tar", ["-S", "-czf", file, "-C", src, "holes.bin"]);
    },
    /"holes\.bin".*sparse/,
  ],
  [
    "a name that is not valid UTF-8",
    (src: string, file: string) => {
      fs.writeFileSync(Buffer.from(`${src}/caf\xe9`, "latin1"), "e9\n");
      execFileSync("tar", ["-czf", file, "-C", src, "."]);
    },
    /caf\\xe9.*not valid UTF-8/,
  ],
] as const) {
  test(`${label}: restore and verify fail with NOT_SUPPORTED naming it, and nothing is left in the target`, async (t) => {
    const { dir, cleanup } = await tempDir("ws-findings-");
    t.after(cleanup);
    const src = path.join(dir, "src");
    await fsp.mkdir(src);
    const file = path.join(dir, "a.tgz");
    make(src, file);
    const s = await stored(dir, file);
    const restoreTo = path.join(dir, "r");
    const r = await runRestore({ ...s, snapshotName: NAME, restoreTo });
    assert.equal(r.ok ? "ok" : r.code, "NOT_SUPPORTED", JSON.stringify(r));
    assert.match(r.ok ? "" : r.error, shown);
    assert.match(r.ok ? "" : r.error, /GNU tar/);
    await assert.rejects(fsp.stat(restoreTo), /ENOENT/);
    const v = await verifySnapshots({ syncConfig: s.syncConfig, stateDir: s.stateDir, snapshotName: NAME });
    assert.ok(v.ok);
    const [one] = v.ok ? v.snapshots : [];
    assert.equal(one?.ok === false && one.code, "NOT_SUPPORTED", JSON.stringify(one));
  });
}
