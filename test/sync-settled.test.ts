/**
 * Files unchanged on both sides are left out of the plan (reconcile.ts `settled`), and a run with
 * nothing to do keeps the state's own record. A file deleted on both sides since the last run gives
 * no action either, but its state entry must still be dropped: a stale entry would read a later
 * re-upload of the same bytes as "deleted locally" and delete it from the cloud (bisync).
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createHash } from "node:crypto";
import { createLocalProvider } from "../src/providers/local/index.js";
import type { RemoteEntry, StorageProvider } from "../src/providers/types.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { loadState, statePathFor } from "../src/sync/state.js";
import { localBisync, syncSettings } from "./sync-suite.js";
import { tempDir } from "./support/tree.js";

test("a file deleted on both sides while every other file is unchanged leaves the state, and a later re-upload of it is downloaded, not deleted", async (t) => {
  const { dir, cleanup } = await tempDir("ws-settled-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const cloudRoot = path.join(dir, "cloud");
  const stateDir = path.join(dir, "state");
  await fsp.mkdir(ws, { recursive: true });
  await fsp.mkdir(cloudRoot, { recursive: true });
  // Revisions that depend on the bytes only, as S3's ETag (MD5 of a single-part upload) does.
  const inner = createLocalProvider({ root: cloudRoot });
  const md5 = async (p: string): Promise<string> => createHash("md5").update(await fsp.readFile(path.join(cloudRoot, ...p.split("/")))).digest("hex");
  const provider: StorageProvider = {
    ...inner,
    async *list(d, o) {
      for await (const e of inner.list(d, o)) {
        const etag: RemoteEntry = { ...e, revision: await md5(d ? `${d}/${e.path}` : e.path) };
        yield etag;
      }
    },
    async write(p, source, o) {
      const stored = await inner.write(p, source, o);
      return { ...stored, revision: await md5(p) };
    },
  };
  const settings = syncSettings({ mode: "bisync" });
  const run = () => runSyncWithProvider({ settings, provider, workspaceDir: ws, stateDir });
  await fsp.writeFile(path.join(ws, "keep.txt"), "keep");
  await fsp.writeFile(path.join(ws, "gone.txt"), "gone");
  assert.equal((await run()).ok, true);
  assert.equal((await run()).ok, true); // a no-change run: both files held as marks from here on

  const cloudGone = path.join(cloudRoot, settings.remotePath!, "gone.txt");
  const { mtime } = await fsp.stat(cloudGone);
  await fsp.rm(path.join(ws, "gone.txt"));
  await fsp.rm(cloudGone);
  const third = await run();
  assert.equal(third.ok, true);

  const stateFile = statePathFor(stateDir, { description: provider.description, remotePath: settings.remotePath!, workspace: ws });
  const state = await loadState(stateFile, { description: provider.description, remotePath: settings.remotePath!, workspace: ws });
  assert.deepEqual(Object.keys(state!.files).sort(), ["keep.txt"], "the entry of a file gone on both sides is dropped");

  // The same bytes put back in the cloud (same time): new to the workspace, so downloaded.
  await fsp.writeFile(cloudGone, "gone");
  await fsp.utimes(cloudGone, mtime, mtime);
  const fourth = await run();
  assert.equal(fourth.ok, true);
  if (fourth.ok) assert.deepEqual(fourth.deleted, [], "nothing deleted");
  assert.equal(await fsp.readFile(cloudGone, "utf8"), "gone", "the cloud copy is still there");
  assert.equal(await fsp.readFile(path.join(ws, "gone.txt"), "utf8"), "gone", "and was downloaded");
});

test("a state entry written as null by hand is no entry, as before (the run does not fail)", async (t) => {
  const { ws, stateDir, provider, settings, run } = await localBisync(t, "ws-settled-null-");
  await fsp.writeFile(path.join(ws, "a.txt"), "a");
  await fsp.writeFile(path.join(ws, "b.txt"), "b");
  assert.equal((await run()).ok, true);
  const stateFile = statePathFor(stateDir, { description: provider.description, remotePath: settings.remotePath!, workspace: ws });
  const text = await fsp.readFile(stateFile, "utf8");
  await fsp.writeFile(stateFile, text.replace(/("a\.txt":)\{[^\n]*\}(,?)$/m, "$1null$2"));
  assert.match(await fsp.readFile(stateFile, "utf8"), /"a\.txt":null/);
  const again = await run();
  assert.equal(again.ok, true, JSON.stringify(again));
  if (again.ok) assert.deepEqual(again.deleted, []);
  assert.equal(await fsp.readFile(path.join(ws, "a.txt"), "utf8"), "a");
});

test("bisync: a conflict copy's name skips names held by files left out of the plan as settled", async (t) => {
  const { ws, cloudRoot, settings, run } = await localBisync(t, "ws-settled-conflict-");
  await fsp.writeFile(path.join(ws, "a.txt"), "base");
  await fsp.writeFile(path.join(ws, "a.txt.conflict"), "an older conflict copy");
  assert.equal((await run()).ok, true);
  assert.equal((await run()).ok, true);
  // Changed on both sides: a conflict. a.txt.conflict is unchanged on both sides (settled).
  await fsp.writeFile(path.join(ws, "a.txt"), "local edit");
  const cloudA = path.join(cloudRoot, settings.remotePath!, "a.txt");
  await fsp.writeFile(cloudA, "cloud edit!");
  const later = new Date(Date.now() + 60_000);
  await fsp.utimes(cloudA, later, later);
  const r = await run();
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(await fsp.readFile(path.join(ws, "a.txt.conflict"), "utf8"), "an older conflict copy", "the settled file is not written over");
  assert.equal(await fsp.readFile(path.join(cloudRoot, settings.remotePath!, "a.txt.conflict"), "utf8"), "an older conflict copy");
  assert.equal(await fsp.readFile(path.join(ws, "a.txt.conflict1"), "utf8"), "local edit", "the loser gets the next free name");
  assert.equal(await fsp.readFile(path.join(ws, "a.txt"), "utf8"), "cloud edit!");
});
