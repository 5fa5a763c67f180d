/**
 * The state a run holds (sync/state-files.ts, loaded by `loadRunState`): the compact files must read
 * back every entry the state file holds, exactly as the public `loadState` gives it, for any name;
 * leave out what is not an entry's shape (a hand edit must never pass for an agreement); and a
 * run's new files must be its own entries over the prior ones it kept.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { loadRunState, loadState, pathRecord, saveState, type StateIdentity } from "../src/sync/state.js";
import { CompactStateFiles, keepOnly, mergedStateFiles, sameStateFiles, stateFilesOf, stateRecordOf } from "../src/sync/state-files.js";
import type { StateEntry, SyncState } from "../src/sync/types.js";
import { tempDir } from "./support/tree.js";

function stateWith(workspace: string, files: Record<string, StateEntry>): SyncState {
  return { version: 1, mode: "bisync", description: "local:/c", remotePath: "share", workspace, filtersHash: "h", savedAt: "2026-12-05T00:00:00.000Z", files };
}

test("a run's compact state holds every entry the public loader reads, for any name and field set", async (t) => {
  const { dir, cleanup } = await tempDir("ws-state-files-");
  t.after(cleanup);
  const id: StateIdentity = { description: "local:/c", remotePath: "share", workspace: path.join(dir, "w") };
  const files = pathRecord<StateEntry>();
  const names = ["__proto__", "constructor", "hasOwnProperty", "123", "0", "a\"quote", "ünïcödé/ファイル", "line\nbreak"];
  names.forEach((k, i) => (files[k] = { local: { size: i, mtimeMs: 1796491170669 + i }, remote: { size: i } }));
  for (let i = 0; i < 3000; i++) {
    const remote = i % 4 === 0 ? { size: i, mtimeMs: 1796491170000.5 + i } : i % 4 === 1 ? { size: i, hash: `h${i}` } : i % 4 === 2 ? { size: i, revision: `r${i}` } : { size: i, mtimeMs: i, hash: `h${i}`, revision: `r${i}` };
    files[`notes/d${i % 31}/f${i}.md`] = { local: { size: i, mtimeMs: 1796491170000 + i }, remote };
  }
  const file = path.join(dir, "state.json");
  await saveState(file, stateWith(id.workspace, files));

  const run = await loadRunState(file, id);
  const pub = await loadState(file, id);
  assert.ok(run && pub);
  assert.ok(run.files instanceof CompactStateFiles);
  assert.equal(run.files.size, Object.keys(pub.files).length);
  assert.deepEqual(stateRecordOf(run.files), pub.files, "the same entries, field for field");
  assert.deepEqual([...run.files.keys()], Object.keys(pub.files), "in the file's order");
  assert.equal(run.files.get("toString"), undefined, "never found through a prototype");
  assert.equal(run.files.slotOf("valueOf"), -1);
  assert.deepEqual(run.files.get("__proto__"), files["__proto__"]);
  // The header fields come back too.
  const { files: _a, ...headRun } = run;
  const { files: _b, ...headPub } = pub;
  assert.deepEqual(headRun, headPub);

  // Saved from the compact form, the text reads back the same.
  const again = path.join(dir, "again.json");
  await saveState(again, run);
  assert.deepEqual((await loadState(again, id))!.files, pub.files);
});

test("entries not in the state's shape are left out of a run's state (never taken as an agreement)", async (t) => {
  const { dir, cleanup } = await tempDir("ws-state-files-");
  t.after(cleanup);
  const id: StateIdentity = { description: "local:/c", remotePath: "share", workspace: path.join(dir, "w") };
  const good = { local: { size: 1, mtimeMs: 2 }, remote: { size: 1 } };
  const odd: Record<string, unknown> = {
    good,
    nullEntry: null,
    noRemote: { local: { size: 1, mtimeMs: 2 } },
    stringSize: { local: { size: "1", mtimeMs: 2 }, remote: { size: 1 } },
    numberHash: { local: { size: 1, mtimeMs: 2 }, remote: { size: 1, hash: 5 } },
    nullMtime: { local: { size: 1, mtimeMs: 2 }, remote: { size: 1, mtimeMs: null } },
    array: [1, 2],
  };
  const file = path.join(dir, "state.json");
  // One line, as a hand edit might leave it (read whole), and the line-per-file layout.
  for (const text of [JSON.stringify({ ...stateWith(id.workspace, {}), files: odd }), `${JSON.stringify({ ...stateWith(id.workspace, {}), files: {} }).replace('"files":{}}', '"files":{')}\n${Object.entries(odd).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",\n")}\n}}`]) {
    await fsp.writeFile(file, text);
    const run = await loadRunState(file, id);
    assert.ok(run);
    assert.deepEqual([...run.files.keys()], ["good"]);
    assert.deepEqual(run.files.get("good"), good);
  }
});

test("a later duplicate name wins, as in JSON, and one that is no entry removes the earlier", () => {
  const files = new CompactStateFiles();
  const e = (n: number): StateEntry => ({ local: { size: n, mtimeMs: n }, remote: { size: n, hash: `h${n}` } });
  assert.equal(files.add("a", e(1)), true);
  files.add("b", e(2));
  files.add("c", e(3));
  files.add("a", e(4));
  assert.deepEqual(files.get("a"), e(4));
  assert.equal(files.add("a", null), false);
  files.seal();
  assert.equal(files.get("a"), undefined);
  assert.equal(files.size, 2);
  assert.deepEqual(stateRecordOf(files), Object.assign(pathRecord<StateEntry>(), { c: e(3), b: e(2) }));
  assert.deepEqual(files.entryAt(files.slotOf("c")), e(3), "the entry moved into the removed one's place keeps its fields");
});

test("a run's new files: its own entries over the prior entries kept, and nothing else", () => {
  const e = (n: number): StateEntry => ({ local: { size: n, mtimeMs: n }, remote: { size: n } });
  const prior = new CompactStateFiles();
  for (const [k, n] of [["same", 1], ["changed", 2], ["gone", 3]] as const) prior.add(k, e(n));
  prior.seal();
  const own = pathRecord<StateEntry>();
  own["changed"] = e(20);
  own["new"] = e(30);
  const kept = (k: string): boolean => k === "same" || k === "changed";
  const merged = mergedStateFiles(own, prior, kept);
  assert.deepEqual(stateRecordOf(merged), Object.assign(pathRecord<StateEntry>(), { changed: e(20), new: e(30), same: e(1) }));
  assert.equal(merged.get("gone"), undefined, "an entry neither kept nor the run's own is dropped");
  assert.equal(merged.size, 3);

  // Nothing of its own and everything kept: the prior files themselves (the state file is not rewritten).
  assert.equal(mergedStateFiles(pathRecord(), prior, () => true), prior);
  assert.ok(sameStateFiles(prior, keepOnly(prior, () => true)), "same entries: same state");
  assert.ok(!sameStateFiles(prior, keepOnly(prior, (k) => k !== "gone")));
  assert.ok(!sameStateFiles(merged, stateFilesOf(Object.assign(pathRecord<StateEntry>(), { changed: e(20), new: e(31), same: e(1) }))));
});
