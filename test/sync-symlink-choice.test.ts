/**
 * With copySymlinks, several links to one folder outside the workspace: one is followed, the
 * others are skipped as loops. Which one must not depend on which `stat` finished first (the walk
 * reads folders and links in parallel): a choice that flips between runs uploads the folder under
 * the other name each time and drops the state entries of the first.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createFilter } from "../src/sync/filters.js";
import { listLocal } from "../src/sync/listing.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { syncSettings } from "./sync-suite.js";
import { tempDir } from "./support/tree.js";

async function tree(t: { after: (fn: () => Promise<void>) => void }): Promise<{ ws: string; outside: string; dir: string }> {
  const { dir, cleanup } = await tempDir("ws-link-choice-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const outside = path.join(dir, "outside");
  await fsp.mkdir(path.join(outside, "sub"), { recursive: true });
  await fsp.writeFile(path.join(outside, "a.txt"), "a");
  await fsp.writeFile(path.join(outside, "sub", "b.txt"), "b");
  await fsp.mkdir(ws);
  return { ws, outside, dir };
}

/** The folders the listing went through (the first part of each file's path, under a link) and the links it skipped as loops. */
async function followed(ws: string): Promise<{ files: string[]; loops: string[] }> {
  const listing = await listLocal(ws, { filter: createFilter([], true), copySymlinks: true, keyOf: (p) => p });
  return {
    files: [...listing.files.values()].map((f) => f.path).sort(),
    loops: listing.skipped.filter((s) => s.reason.includes("loop")).map((s) => s.path).sort(),
  };
}

test("of several links to one outside folder, the one nearest the top, then first by name, is followed, every time", { timeout: 120_000 }, async (t) => {
  const { ws, outside } = await tree(t);
  // Names that sort before their siblings but are read last (the walk takes its queue from the end).
  for (const name of ["b-link", "c-link", "a-link"]) await fsp.symlink(outside, path.join(ws, name));
  // Deeper, but first by name: the depth decides.
  await fsp.mkdir(path.join(ws, "0-deep", "er"), { recursive: true });
  await fsp.symlink(outside, path.join(ws, "0-deep", "er", "0-link"));
  // Many regular files beside them: the links' `stat` calls finish in varying order.
  await fsp.mkdir(path.join(ws, "many"));
  await Promise.all(Array.from({ length: 300 }, (_, i) => fsp.writeFile(path.join(ws, "many", `f${i}`), "")));
  const expected = { files: ["a-link/a.txt", "a-link/sub/b.txt"], loops: ["0-deep/er/0-link", "b-link", "c-link"] };
  for (let run = 0; run < 25; run++) {
    const got = await followed(ws);
    assert.deepEqual({ files: got.files.filter((f) => !f.startsWith("many/")), loops: got.loops }, expected, `listing ${run}`);
  }
});

test("a link inside a followed folder never wins over a link outside one; a link into the workspace is a loop (a guard: the walk before the fix passed it too)", { timeout: 60_000 }, async (t) => {
  const { ws, outside, dir } = await tree(t);
  const other = path.join(dir, "other");
  await fsp.mkdir(other);
  await fsp.writeFile(path.join(other, "o.txt"), "o");
  // other/ holds a link back to outside/; ws holds links to both, the one to outside/ named last.
  await fsp.symlink(outside, path.join(other, "0-back"));
  await fsp.symlink(other, path.join(ws, "a-other"));
  await fsp.symlink(outside, path.join(ws, "z-outside"));
  await fsp.symlink(ws, path.join(ws, "self"));
  for (let run = 0; run < 10; run++) {
    assert.deepEqual(await followed(ws), { files: ["a-other/o.txt", "z-outside/a.txt", "z-outside/sub/b.txt"], loops: ["a-other/0-back", "self"] }, `listing ${run}`);
  }
});

test("a link to a folder that holds the workspace is a loop: the workspace is never listed again under it", { timeout: 60_000 }, async (t) => {
  const { ws, dir } = await tree(t);
  await fsp.writeFile(path.join(ws, "w.txt"), "w");
  await fsp.symlink(dir, path.join(ws, "up"));
  await fsp.symlink("/", path.join(ws, "root"));
  assert.deepEqual(await followed(ws), { files: ["w.txt"], loops: ["root", "up"] });
});

test("a mirror with two links to one folder uploads it under one name and keeps it there run after run", { timeout: 120_000 }, async (t) => {
  const { ws, outside, dir } = await tree(t);
  await fsp.symlink(outside, path.join(ws, "y-link"));
  await fsp.symlink(outside, path.join(ws, "x-link"));
  const settings = syncSettings({ mode: "mirror", remotePath: "share", copySymlinks: true });
  const cloud = path.join(dir, "cloud");
  for (let run = 0; run < 6; run++) {
    const r = await runSyncWithProvider({ settings, provider: createLocalProvider({ root: cloud }), workspaceDir: ws, stateDir: path.join(dir, "state") });
    assert.ok(r.ok, !r.ok ? r.error : "");
    assert.deepEqual([...r.uploaded].sort(), run === 0 ? ["x-link/a.txt", "x-link/sub/b.txt"] : [], `run ${run}`);
    assert.deepEqual(r.deleted, [], `run ${run}`);
  }
  const stored = await fsp.readdir(path.join(cloud, "share"));
  assert.deepEqual(stored.sort(), ["x-link"]);
});
