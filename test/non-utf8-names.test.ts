/**
 * Names that are not valid UTF-8 (rclone's bisync scenario `test_extended_filenames` has one) are
 * never dropped silently: sync and backup report each one (a warning and `skipped` with the
 * reason), and everything else still syncs and is backed up.
 */
import assert from "node:assert/strict";
import fs, { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { walkSources } from "../src/archive/index.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import type { SyncRunSuccess } from "../src/sync/types.js";
import { NON_UTF8_REASON } from "../src/util/utf8-names.js";
import { memoryLogger, syncSettings } from "./sync-suite.js";

/** Creates `<dir>/<prefix><0xE9>.txt` (Latin-1 "é", invalid as UTF-8). */
function writeLatin1Name(dir: string, prefix: string): void {
  fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/${prefix}`), Buffer.from([0xe9]), Buffer.from(".txt")]), "latin-1 name\n");
}

describe("names that are not valid UTF-8", () => {
  let tmp = "";
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-nonutf8-"));
  });
  after(() => fsp.rm(tmp, { recursive: true, force: true }));

  it("sync reports each one (warning and skipped) and syncs the rest", async () => {
    const ws = path.join(tmp, "ws");
    await fsp.mkdir(path.join(ws, "sub"), { recursive: true });
    await fsp.writeFile(path.join(ws, "ok.txt"), "fine\n");
    await fsp.writeFile(path.join(ws, "sub", "real-\uFFFD.txt"), "a real U+FFFD is valid UTF-8\n");
    writeLatin1Name(ws, "caf");
    writeLatin1Name(path.join(ws, "sub"), "r");
    const logger = memoryLogger();
    const r = await runSyncWithProvider({
      settings: syncSettings({ mode: "mirror", remotePath: "share", exclude: [] }),
      provider: createLocalProvider({ root: path.join(tmp, "cloud") }),
      workspaceDir: ws,
      stateDir: path.join(tmp, "state"),
      logger,
    });
    assert.ok(r.ok, !r.ok ? r.error : "");
    const ok = r as SyncRunSuccess;
    assert.deepEqual(ok.uploaded, ["ok.txt", "sub/real-\uFFFD.txt"]);
    assert.deepEqual(ok.skipped, [
      { path: "caf\\xe9.txt", reason: NON_UTF8_REASON },
      { path: "sub/r\\xe9.txt", reason: NON_UTF8_REASON },
    ]);
    assert.equal(logger.lines.filter((l) => l.startsWith("warn") && l.includes("\\xe9.txt") && l.includes("not valid UTF-8")).length, 2, logger.lines.join("\n"));
  });

  it("backup reports each one (warning and skipped) and keeps the rest", async () => {
    const src = path.join(tmp, "src");
    await fsp.mkdir(src, { recursive: true });
    await fsp.writeFile(path.join(src, "ok.txt"), "fine\n");
    writeLatin1Name(src, "caf");
    const warnings: string[] = [];
    const walk = await walkSources([{ item: "workspace", path: src, archiveName: "ws" }], { onWarning: (m) => warnings.push(m) });
    assert.equal(walk.fileCount, 1);
    assert.deepEqual(walk.skipped, [{ path: path.join(src, "caf\\xe9.txt"), reason: NON_UTF8_REASON }]);
    assert.deepEqual(warnings, [`Skipped ${path.join(src, "caf\\xe9.txt")}: ${NON_UTF8_REASON}`]);
    const names = [...walk.entries()].map((e) => e.name);
    assert.deepEqual(names, ["ws", "ws/ok.txt"]);
  });
});
