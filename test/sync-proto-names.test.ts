/**
 * File names that are also names of Object.prototype's members (`__proto__`, `constructor`,
 * `toString`, ...) sync like any other, on every run: the state and the run's records are keyed by
 * path without a prototype. Before, a workspace file named `__proto__` made every later run fail
 * ("Cannot read properties of undefined (reading 'size')"), and so did such a name new since the
 * last run.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createLocalProvider } from "../src/providers/local/index.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { syncSettings } from "./sync-suite.js";
import { tempDir, writeTree } from "./support/tree.js";

for (const mode of ["bisync", "mirror"] as const) {
  test(`${mode}: names such as __proto__ and constructor sync, are deleted when the state proves it, and keep later runs working`, async (t) => {
    const { dir, cleanup } = await tempDir("ws-proto-");
    t.after(cleanup);
    const ws = path.join(dir, "ws");
    const cloud = path.join(dir, "cloud");
    await writeTree(ws, { ["__proto__"]: "p", constructor: "c", toString: "t", "sub/__proto__": "sp", "a.txt": "a" });
    const provider = createLocalProvider({ root: cloud });
    const run = () => runSyncWithProvider({ settings: syncSettings({ mode, remotePath: "share", exclude: [] }), provider, workspaceDir: ws, stateDir: path.join(dir, "state") });
    const first = await run();
    assert.ok(first.ok, !first.ok ? first.error : "");
    assert.deepEqual(first.uploaded, ["__proto__", "a.txt", "constructor", "sub/__proto__", "toString"]);

    const again = await run();
    assert.ok(again.ok, !again.ok ? again.error : "");
    assert.deepEqual([again.uploaded, again.downloaded, again.deleted], [[], [], []]);

    // New names of the same kind since the last run, and one deleted: the state proves the deletion.
    await fsp.writeFile(path.join(ws, "valueOf"), "v");
    await fsp.writeFile(path.join(ws, "hasOwnProperty"), "h");
    await fsp.rm(path.join(ws, "toString"));
    const third = await run();
    assert.ok(third.ok, !third.ok ? third.error : "");
    assert.deepEqual(third.uploaded, ["hasOwnProperty", "valueOf"]);
    assert.deepEqual(third.deleted, ["toString"]);
    assert.equal(await fsp.readFile(path.join(cloud, "share", "__proto__"), "utf8"), "p");
    await assert.rejects(fsp.stat(path.join(cloud, "share", "toString")));
  });
}
