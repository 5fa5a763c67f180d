/**
 * FileIndex (sync/file-index.ts): a listing whose unchanged files are held as marks must read as
 * the map of records it replaces, for every reader (get, has, size, iteration, set, delete), and
 * must never mark a key the state does not hold as its own (a `constructor` file against a state
 * without one), nor a twin whose spelling the state cannot tell apart.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { localFromState, remoteFromState } from "../src/sync/deltas.js";
import { FileIndex, rebuiltFromState, unchangedOnBothSides, unsettledKeys } from "../src/sync/file-index.js";
import { contentCheckCandidates, planSync } from "../src/sync/plan.js";
import { createFilter } from "../src/sync/filters.js";
import { listLocal } from "../src/sync/listing.js";
import { pathRecord } from "../src/sync/state.js";
import { CompactStateFiles, stateFilesOf } from "../src/sync/state-files.js";
import type { LocalFile, RemoteFile, StateEntry } from "../src/sync/types.js";
import { tempDir, writeTree } from "./support/tree.js";

function entry(size: number, mtimeMs: number): StateEntry {
  return { local: { size, mtimeMs }, remote: { size, mtimeMs, revision: `r${size}` } };
}

test("a FileIndex with marks reads as the map of records it replaces", () => {
  const state = pathRecord<StateEntry>();
  state["a.txt"] = entry(1, 1000);
  state["b/c.txt"] = entry(2, 2000);
  state["__proto__"] = entry(3, 3000);
  const index = new FileIndex<LocalFile>(stateFilesOf(state), localFromState);
  const same = (s: StateEntry) => (f: LocalFile) => (e: StateEntry) => e === s && f.size === s.local.size;
  assert.equal(index.keepIf("a.txt", same(state["a.txt"]!)({ path: "a.txt", size: 1, mtimeMs: 1000 })), true);
  assert.equal(index.keepIf("__proto__", () => true), true);
  assert.equal(index.keepIf("constructor", () => true), false, "no entry of its own: never marked");
  assert.equal(index.keepIf("b/c.txt", () => false), false, "the caller's check decides");
  index.set("new.txt", { path: "new.txt", size: 9, mtimeMs: 9 });
  assert.equal(index.keepIf("new.txt", () => true), false, "a key with a record is not marked");

  assert.equal(index.size, 3);
  assert.deepEqual(index.get("a.txt"), { path: "a.txt", size: 1, mtimeMs: 1000 });
  assert.ok(rebuiltFromState(index.get("a.txt")!));
  assert.ok(!rebuiltFromState(index.get("new.txt")!));
  assert.deepEqual(index.get("__proto__"), { path: "__proto__", size: 3, mtimeMs: 3000 });
  assert.equal(index.has("b/c.txt"), false);
  assert.equal(index.get("constructor"), undefined);
  assert.deepEqual([...index.keys()].sort(), ["__proto__", "a.txt", "new.txt"]);
  assert.deepEqual(new Map(index), new Map([...index.entries()]));
  assert.deepEqual([...index.values()].map((f) => f.path).sort(), ["__proto__", "a.txt", "new.txt"]);

  // set over a mark replaces it; delete removes a mark or a record.
  index.set("a.txt", { path: "a.txt", size: 5, mtimeMs: 5 });
  assert.equal(index.size, 3);
  assert.equal(index.get("a.txt")!.size, 5);
  assert.equal(index.delete("__proto__"), true);
  assert.equal(index.delete("__proto__"), false);
  assert.equal(index.size, 2);
  assert.equal(index.marked("a.txt"), false);
  index.clear();
  assert.equal(index.size, 0);
  assert.deepEqual(stateFilesOf(state).keys(), ["a.txt", "b/c.txt", "__proto__"]);
});

test("listings given the state hold unchanged files as marks, rebuild them on read, and give twins their records back", async (t) => {
  const { dir, cleanup } = await tempDir("ws-file-index-");
  t.after(cleanup);
  await writeTree(dir, { "same.txt": "s", "changed.txt": "c", "caf\u00e9.txt": "nfc" });
  const opts = { filter: createFilter([], false), copySymlinks: false, keyOf: (p: string) => p.normalize("NFC") };
  const first = await listLocal(dir, opts);
  const state = pathRecord<StateEntry>();
  for (const [k, f] of first.files) state[k] = { local: { size: f.size, mtimeMs: f.mtimeMs }, remote: { size: f.size } };
  state["changed.txt"] = { local: { size: 99, mtimeMs: 1 }, remote: { size: 99 } };
  // A twin by Unicode form appears: the state (keyed "café.txt") cannot say which spelling it recorded.
  await writeTree(dir, { "cafe\u0301.txt": "nfd" });

  const again = await listLocal(dir, { ...opts, known: { files: state } });
  const files = again.files as FileIndex<LocalFile>;
  assert.ok(files instanceof FileIndex);
  assert.equal(files.marked("same.txt"), true);
  assert.equal(files.marked("changed.txt"), false);
  assert.equal(files.marked("caf\u00e9.txt"), false, "the twins' key gets records, not a mark");
  assert.equal(again.clashGroups?.get("caf\u00e9.txt")?.length, 2);
  assert.equal(files.get("same.txt")!.size, 1);
  assert.deepEqual([...files.keys()].sort(), ["caf\u00e9.txt", "changed.txt", "same.txt"]);

  const remote = new FileIndex<LocalFile>(stateFilesOf(state), localFromState);
  remote.keepIf("same.txt", () => true);
  const settled = unchangedOnBothSides(files, remote);
  assert.ok(settled);
  assert.equal(settled("same.txt"), true);
  assert.equal(settled("changed.txt"), false);
});

test("the unsettled keys found by place are those asked key by key, and so are the plan and the content-check candidates", () => {
  // unsettledKeys (file-index.ts) lists the keys `settled` is false for from the listings' own
  // records and the state's places; the plan and the candidates must come out exactly as when
  // `settled` is asked of every key of the three sources (a plain wrapper of the same test).
  // mulberry32: every bit usable (an LCG's low bits cycle, which left whole cases out).
  let seed = 20261206;
  const rand = (n: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
  for (let round = 0; round < 200; round++) {
    const state = new CompactStateFiles();
    const n = 1 + rand(40);
    const names = Array.from({ length: n + 10 }, (_, i) => `d${rand(3)}/f${i}`);
    for (let i = 0; i < n; i++) if (rand(4) !== 0) state.add(names[i]!, entry(1 + rand(3), 1000 * (1 + rand(3))));
    state.seal();
    const local = new FileIndex<LocalFile>(state, localFromState);
    const remote = new FileIndex<RemoteFile>(state, remoteFromState);
    for (const name of names) {
      // Each side: absent, marked (as the state records it), or a record of its own (equal to the
      // state's, or not); names beyond the state's can only be absent or records.
      const inState = state.slotOf(name) >= 0;
      const size = 1 + rand(3);
      const mtimeMs = 1000 * (1 + rand(3));
      const l = rand(4);
      if (l === 1 && inState) local.keepIf(name, () => true);
      else if (l >= 2) local.set(name, { path: name, size, mtimeMs });
      const r = rand(4);
      if (r === 1 && inState) remote.keepIf(name, () => true);
      else if (r >= 2) remote.set(name, { path: name, size: rand(2) === 0 ? size : size + 1, mtimeMs, revision: `r${rand(3)}` });
    }
    const settled = unchangedOnBothSides(local, remote);
    if (settled === undefined) continue; // a side with no mark: nothing is settled
    // Listings may change after the test is made (a twin's record, a blocked name): both ways read them live.
    for (const name of names) {
      const change = rand(20);
      if (change === 0) local.delete(name);
      else if (change === 1) remote.delete(name);
      else if (change === 2) local.set(name, { path: name, size: 9, mtimeMs: 9000 });
    }
    const asked = (key: string): boolean => settled(key);
    const found = unsettledKeys(settled, state, local, remote);
    assert.ok(found, "the test made by place is recognised");
    assert.equal(unsettledKeys(asked, state, local, remote), undefined, "a wrapper is asked key by key");
    assert.equal(unsettledKeys(settled, stateFilesOf({}), local, remote), undefined, "another state (a filtered copy) is asked key by key");
    assert.equal(unsettledKeys(settled, state, new Map(local), remote), undefined, "other listings are asked key by key");
    // The key sets themselves, not only the plans they lead to (a key with no action shows only here).
    const union = new Set([...local.keys(), ...remote.keys(), ...state.keys()]);
    assert.deepEqual([...found.all].sort(), [...union].filter((k) => !settled(k)).sort(), `round ${round}: all`);
    assert.deepEqual([...found.local].sort(), [...local.keys()].filter((k) => !settled(k)).sort(), `round ${round}: local`);
    assert.equal(new Set(found.local).size, found.local.length, `round ${round}: local keys listed once`);
    for (const mode of ["mirror", "bisync"] as const) {
      const byPlace = planSync(local, remote, state, { mode, settled });
      const byKey = planSync(local, remote, state, { mode, settled: asked });
      assert.deepEqual(byPlace, byKey, `round ${round}, ${mode}`);
    }
    assert.deepEqual(contentCheckCandidates(local, remote, state, settled), contentCheckCandidates(local, remote, state, asked), `round ${round}: candidates`);
  }
});
