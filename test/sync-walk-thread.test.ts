/**
 * A sync whose cloud is a large local folder lists it on a thread (providers/local/walk-thread.ts)
 * while the workspace is listed: changes on both sides are found exactly as by a listing on the
 * main thread, whichever part of the walk saw them.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createLocalProvider } from "../src/providers/local/index.js";
import { WALK_INLINE_NAMES } from "../src/providers/local/walk.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { syncSettings } from "./sync-suite.js";
import { ONE_CORE, countThreads } from "./support/threads.js";
import { tempDir } from "./support/tree.js";

test("a bisync over a large local cloud folder finds every change on both sides through the walk's thread", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const { dir, cleanup } = await tempDir("ws-sync-walk-thread-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const cloudRoot = path.join(dir, "cloud");
  const folders = Math.ceil(WALK_INLINE_NAMES / 1000) + 1;
  for (let d = 1; d <= folders; d++) {
    await fsp.mkdir(path.join(ws, `d${d}`), { recursive: true });
    for (let i = 0; i < 1000; i += 250) {
      await Promise.all(Array.from({ length: 250 }, (_, j) => fsp.writeFile(path.join(ws, `d${d}`, `f${String(i + j).padStart(5, "0")}`), `${d}/${i + j}`)));
    }
  }
  const settings = syncSettings({ mode: "bisync", remotePath: "share", maxDelete: 10 });
  const run = () => runSyncWithProvider({ settings, provider: createLocalProvider({ root: cloudRoot }), workspaceDir: ws, stateDir: path.join(dir, "state") });
  const first = await countThreads(run);
  assert.ok(first.value.ok, !first.value.ok ? first.value.error : "");
  assert.equal(first.value.uploaded.length, folders * 1000);

  const nothing = await countThreads(run);
  assert.ok(nothing.value.ok);
  assert.equal(nothing.threads, 1, "the cloud folder is listed on a thread");
  assert.deepEqual([nothing.value.uploaded, nothing.value.downloaded, nothing.value.deleted], [[], [], []]);

  // Changes in the part listed on the calling thread (d1) and in the part listed on the thread.
  const cloud = path.join(cloudRoot, "share");
  const last = `d${folders}`;
  const later = new Date(Date.now() + 5000);
  await fsp.writeFile(path.join(cloud, last, "f00999"), "edited in the cloud");
  await fsp.utimes(path.join(cloud, last, "f00999"), later, later);
  await fsp.writeFile(path.join(cloud, last, "new.txt"), "new in the cloud");
  await fsp.rm(path.join(cloud, `d${folders - 1}`, "f00500"));
  await fsp.writeFile(path.join(cloud, "d1", "f00002"), "edited in the cloud too");
  await fsp.utimes(path.join(cloud, "d1", "f00002"), later, later);
  await fsp.writeFile(path.join(ws, "d1", "f00001"), "edited in the workspace");
  await fsp.writeFile(path.join(ws, last, "f00000"), "edited in the workspace too");

  const changed = await countThreads(run);
  assert.ok(changed.value.ok, !changed.value.ok ? changed.value.error : "");
  assert.equal(changed.threads, 1);
  assert.deepEqual([...changed.value.uploaded].sort(), ["d1/f00001", `${last}/f00000`]);
  assert.deepEqual([...changed.value.downloaded].sort(), ["d1/f00002", `${last}/f00999`, `${last}/new.txt`]);
  assert.deepEqual(changed.value.deleted, [`d${folders - 1}/f00500`]);
  assert.equal(await fsp.readFile(path.join(ws, last, "f00999"), "utf8"), "edited in the cloud");
  assert.equal(await fsp.readFile(path.join(ws, last, "new.txt"), "utf8"), "new in the cloud");
  await assert.rejects(fsp.stat(path.join(ws, `d${folders - 1}`, "f00500")), { code: "ENOENT" });
  assert.equal(await fsp.readFile(path.join(cloud, "d1", "f00001"), "utf8"), "edited in the workspace");
});
