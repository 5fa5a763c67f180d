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
import { planSync } from "../src/sync/plan.js";
import { loadRunState, loadState, pathRecord, saveState, statePathFor, type StateIdentity } from "../src/sync/state.js";
import { CompactStateFiles, keepOnly, mergedStateFiles, revisionNumber, sameStateFiles, stateFilesOf, type StateFiles } from "../src/sync/state-files.js";
import type { RemoteFile, StateEntry, SyncState } from "../src/sync/types.js";
import { localBisync } from "./sync-suite.js";
import { tempDir } from "./support/tree.js";

/** The entries of `files` as a plain record, in their order. */
function stateRecordOf(files: StateFiles): Record<string, StateEntry> {
  const out = pathRecord<StateEntry>();
  files.keys().forEach((k, slot) => {
    out[k] = files.entryAt(slot);
  });
  return out;
}

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
  const e = (n: number): StateEntry => ({ local: { size: n, mtimeMs: n }, remote: n === 3 ? { size: n, mtimeMs: n + 0.5, revision: `r${n}` } : { size: n, hash: `h${n}` } });
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
  assert.deepEqual(files.entryAt(files.slotOf("b")), e(2));
  assert.throws(() => files.add("d", e(5)), /sealed/, "places are fixed once sealed (marks refer to them)");
  assert.throws(() => files.delete("b"), /sealed/);
  assert.equal(new CompactStateFiles().seal().size, 0);
});

test("a run's own entries are appended without lookups, read back by key afterwards, and a key appended twice fails the lookup", () => {
  const e = (n: number): StateEntry => ({ local: { size: n, mtimeMs: 1796491170000 + n }, remote: n % 2 === 0 ? { size: n, revision: `${n}:r` } : { size: n, mtimeMs: n + 0.25, hash: `h${n}` } });
  // Room for 2 at first: the numbers grow past it.
  const files = new CompactStateFiles(2);
  const names = ["b", "a", "__proto__", "c/d", "0"];
  names.forEach((k, i) => assert.equal(files.append(k, e(i)), true));
  assert.equal(files.append("x", { local: { size: "1" } }), false, "not an entry's shape: nothing added");
  assert.equal(files.size, names.length);
  assert.deepEqual(files.keys(), names, "in the order appended");
  names.forEach((k, i) => {
    assert.equal(files.slotOf(k), i);
    assert.deepEqual(files.get(k), e(i));
  });
  assert.equal(files.get("x"), undefined);
  assert.equal(files.slotOf("constructor"), -1, "never found through a prototype");
  // Appends after a lookup, and a delete between them: every place is right.
  files.append("z", e(7));
  files.delete("b");
  files.append("y", e(8));
  const expected = pathRecord<StateEntry>();
  for (const [k, n] of [["z", 7], ["a", 1], ["__proto__", 2], ["c/d", 3], ["0", 4], ["y", 8]] as const) expected[k] = e(n);
  assert.deepEqual(stateRecordOf(files), expected);
  assert.deepEqual(files.keys(), ["z", "a", "__proto__", "c/d", "0", "y"], "the last entry takes the deleted one's place");
  assert.deepEqual(files.get("y"), e(8));
  assert.equal(files.get("b"), undefined);

  const twice = new CompactStateFiles();
  twice.append("a", e(1));
  twice.append("b", e(2));
  twice.append("a", e(3));
  assert.throws(() => twice.get("a"), (err: Error & { code?: string }) => err.code === "INTERNAL_ERROR" && /two state entries for "a"/.test(err.message));
  assert.throws(() => new CompactStateFiles().seal().append("a", e(1)), /sealed/);
});

test("a run's new files: its own entries over the prior entries kept, and nothing else", () => {
  const e = (n: number): StateEntry => ({ local: { size: n, mtimeMs: n }, remote: { size: n } });
  const prior = new CompactStateFiles();
  // A dropped entry before the kept ones: each kept entry must come with its own numbers.
  for (const [k, n] of [["gone", 3], ["same", 1], ["changed", 2], ["same2", 4]] as const) prior.add(k, e(n));
  prior.seal();
  const own = new CompactStateFiles();
  own.add("changed", e(20));
  own.add("new", e(30));
  const kept = (k: string): boolean => k === "same" || k === "same2" || k === "changed";
  const merged = mergedStateFiles(own, prior, kept);
  assert.deepEqual(stateRecordOf(merged), Object.assign(pathRecord<StateEntry>(), { changed: e(20), new: e(30), same: e(1), same2: e(4) }));
  for (const k of merged.keys()) assert.deepEqual(merged.entryAt(merged.slotOf(k)), merged.get(k), `${k}: the same entry by place and by key`);
  assert.equal(merged.get("gone"), undefined, "an entry neither kept nor the run's own is dropped");
  assert.equal(merged.size, 4);

  // Nothing of its own and everything kept: the prior files themselves (the state file is not rewritten).
  assert.equal(mergedStateFiles(pathRecord(), prior, () => true), prior);
  assert.ok(sameStateFiles(prior, keepOnly(prior, () => true)), "same entries: same state");
  assert.ok(!sameStateFiles(prior, keepOnly(prior, (k) => k !== "gone")));
  assert.ok(!sameStateFiles(merged, stateFilesOf(Object.assign(pathRecord<StateEntry>(), { changed: e(20), new: e(31), same: e(1), same2: e(4) }))));
  const withRevision = (revision: string): StateFiles => stateFilesOf(Object.assign(pathRecord<StateEntry>(), { a: { local: { size: 1, mtimeMs: 1 }, remote: { size: 1, revision } } }));
  assert.ok(sameStateFiles(withRevision("r1"), withRevision("r1")));
  assert.ok(!sameStateFiles(withRevision("r1"), withRevision("r2")), "a revision alone differs: another state");
});

test("planSync reads a caller's StateFiles as state files, and a record as it is at each call", () => {
  const entry: StateEntry = { local: { size: 1, mtimeMs: 1000 }, remote: { size: 1, mtimeMs: 1000 } };
  const local = new Map([["a.txt", { path: "a.txt", size: 1, mtimeMs: 1000 }]]);
  const remote = new Map<string, RemoteFile>();
  // A StateFiles of the caller's own, not one of ours.
  const own: StateFiles = {
    size: 1,
    keys: () => ["a.txt"],
    slotOf: (k) => (k === "a.txt" ? 0 : -1),
    entryAt: () => entry,
    get: (k) => (k === "a.txt" ? entry : undefined),
  };
  assert.deepEqual(planSync(local, remote, own, { mode: "bisync" }).actions.map((a) => a.kind), ["deleteLocal"]);
  // The same record, changed between two calls: each call reads it as it is then.
  const record = pathRecord<StateEntry>();
  assert.deepEqual(planSync(local, remote, record, { mode: "bisync" }).actions.map((a) => a.kind), ["upload"]);
  record["a.txt"] = entry;
  assert.deepEqual(planSync(local, remote, record, { mode: "bisync" }).actions.map((a) => a.kind), ["deleteLocal"]);
});

test("the state file is left alone by a run that changes nothing and rewritten by one that changes any entry, the count staying the same", async (t) => {
  const room = await localBisync(t, "ws-state-files-run-");
  const { ws, stateDir, provider, settings } = room;
  const run = async (): Promise<void> => assert.equal((await room.run()).ok, true);
  const id: StateIdentity = { description: provider.description, remotePath: settings.remotePath!, workspace: ws };
  const stateFile = statePathFor(stateDir, id);
  const files = async (): Promise<Record<string, StateEntry>> => (await loadState(stateFile, id))!.files;
  const stamp = async (): Promise<string> => {
    const st = await fsp.stat(stateFile);
    return `${st.ino}:${st.mtimeMs}`;
  };
  for (let i = 0; i < 50; i++) await fsp.writeFile(path.join(ws, `f${String(i).padStart(2, "0")}.txt`), `file ${i}`);
  await run();
  await run();
  const settled = await stamp();
  await run();
  assert.equal(await stamp(), settled, "nothing changed: the state file is not rewritten");

  // One file in the middle changes: its entry, and only its entry, is new.
  const before = await files();
  await fsp.writeFile(path.join(ws, "f25.txt"), "file 25, longer now");
  await run();
  assert.notEqual(await stamp(), settled);
  const after = await files();
  // (Whole milliseconds from the nanoseconds, as the state takes them: `Math.trunc(st.mtimeMs)`
  // of the double is one less when the division lands just below a whole number.)
  const st = await fsp.stat(path.join(ws, "f25.txt"), { bigint: true });
  assert.deepEqual(after["f25.txt"]!.local, { size: Number(st.size), mtimeMs: Number(st.mtimeNs / 1_000_000n) });
  for (const k of Object.keys(before)) if (k !== "f25.txt") assert.deepEqual(after[k], before[k], `${k}: kept as it was`);

  // One file deleted and another added: as many entries as before, but not the same ones.
  const changed = await stamp();
  await fsp.rm(path.join(ws, "f10.txt"));
  await fsp.writeFile(path.join(ws, "g.txt"), "new");
  await run();
  assert.notEqual(await stamp(), changed, "the same count of entries, other keys: rewritten");
  const last = await files();
  assert.equal(last["f10.txt"], undefined);
  assert.ok(last["g.txt"]);
  assert.equal(Object.keys(last).length, 50);
});

test("a revision made of the entry's own size and time and a whole number is held as that number, and every revision reads back as it was", () => {
  const t = 1796491170669;
  const cases: { size: number; mtimeMs?: number; revision: string; packed: boolean }[] = [
    { size: 5, mtimeMs: t, revision: `5:${t}:123`, packed: true },
    { size: 0, mtimeMs: t, revision: `0:${t}:0`, packed: true },
    { size: 5, mtimeMs: t, revision: `5:${t}:9007199254740991`, packed: true },
    { size: 5, mtimeMs: t + 0.5, revision: `5:${t + 0.5}:7`, packed: true },
    { size: -0, mtimeMs: t, revision: `0:${t}:7`, packed: true },
    { size: 6, mtimeMs: t, revision: `5:${t}:123`, packed: false },
    { size: 5, mtimeMs: t, revision: `5:${t + 1}:123`, packed: false },
    { size: 5, revision: `5:${t}:123`, packed: false },
    { size: 5, mtimeMs: t, revision: `5:${t}:9007199254740993`, packed: false },
    { size: 5, mtimeMs: t, revision: `5:${t}:0123`, packed: false },
    { size: 5, mtimeMs: t, revision: `5:${t}:-1`, packed: false },
    { size: 5, mtimeMs: t, revision: `5:${t}:1e3`, packed: false },
    { size: 5, mtimeMs: t, revision: `5:${t}: 1`, packed: false },
    { size: 5, mtimeMs: t, revision: `5:${t}:`, packed: false },
    { size: 5, mtimeMs: t, revision: `5:${t}:12:3`, packed: false },
    { size: 5, mtimeMs: t, revision: "0123abcd", packed: false },
  ];
  for (const c of cases) assert.equal(revisionNumber(c.revision, c.size, c.mtimeMs) !== undefined, c.packed, c.revision);
  const entry = (c: (typeof cases)[number], n: number): StateEntry => ({ local: { size: n, mtimeMs: t + n }, remote: c.mtimeMs === undefined ? { size: c.size, revision: c.revision } : { size: c.size, mtimeMs: c.mtimeMs, hash: `h${n}`, revision: c.revision } });
  // Through add, append, a replacement, and a removal that moves the last entry into a freed place.
  const added = new CompactStateFiles(2);
  const appended = new CompactStateFiles(2);
  cases.forEach((c, n) => {
    added.add(`k${n}`, entry(c, n));
    appended.append(`k${n}`, entry(c, n));
  });
  added.add("k0", entry(cases[9]!, 0));
  added.add("k0", entry(cases[0]!, 0));
  added.add("gone", entry(cases[1]!, 99));
  assert.equal(added.add("k3", null), false);
  added.seal();
  const readBack = (files: CompactStateFiles, k: string): StateEntry => files.entryAt(files.slotOf(k));
  cases.forEach((c, n) => {
    const want = entry(c, n);
    assert.deepEqual(readBack(appended, `k${n}`), want, c.revision);
    if (n !== 3) assert.deepEqual(readBack(added, `k${n}`), want, c.revision);
  });
  assert.equal(added.get("k3"), undefined);
  assert.equal(added.get("gone")!.remote.revision, `0:${t}:0`, "moved into the removed entry's place with its number");
  assert.equal(Object.is(readBack(appended, "k4").remote.size, -0), true, "the size as given");
});
