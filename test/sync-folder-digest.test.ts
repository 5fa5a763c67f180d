/**
 * Per-folder digests (`src/sync/folder-digest.ts`): a run checks each folder of both sides as a
 * whole against the state, reads no state entry when nothing changed, and otherwise acts exactly
 * as a run without digests (the differential test at the end runs both on the same changes).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { promises as fsp, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { FolderCheck, MAX_DIGEST_FOLDER_FILES, digestOfLines, folderDigestsOf, folderDigestsWithTurns, localLine, readFolderDigests, remoteLine } from "../src/sync/folder-digest.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { loadState, loadRunState, saveState, statePathFor, type StateIdentity } from "../src/sync/state.js";
import { CompactStateFiles } from "../src/sync/state-files.js";
import type { SyncMode, SyncSettings } from "../src/config/types.js";
import type { LocalFile, StateEntry, SyncRunResult } from "../src/sync/types.js";
import { instrument, localBisync, memoryLogger, type Instrumented } from "./sync-suite.js";

const UNCHANGED = "Every folder is as the last sync left it";
/** The log line of a run that left the entries of folders unchanged on both sides unread (see `prepare.ts`). */
const CARRIED = /(\d+) folder\(s\) as the last sync left them on both sides: their (\d+) file\(s\) carried over unread/;

test("a folder's digest covers each file's key and every compared field, in any order, unambiguously", () => {
  const a = localLine("d/a.txt", { size: 1, mtimeMs: 1000 });
  const b = localLine("d/b.txt", { size: 2, mtimeMs: 2000 });
  assert.equal(digestOfLines([a, b]), digestOfLines([b, a]));
  assert.notEqual(digestOfLines([a, b]), digestOfLines([a, localLine("d/b.txt", { size: 3, mtimeMs: 2000 })]));
  assert.notEqual(digestOfLines([a, b]), digestOfLines([a, localLine("d/b.txt", { size: 2, mtimeMs: 2001 })]));
  assert.notEqual(digestOfLines([a, b]), digestOfLines([a, localLine("d/c.txt", { size: 2, mtimeMs: 2000 })]));
  assert.notEqual(digestOfLines([a, b]), digestOfLines([a]));
  const r = { size: 5, mtimeMs: 7, hash: "h", revision: "r1" };
  for (const other of [{ ...r, revision: "r2" }, { ...r, hash: "h2" }, { ...r, mtimeMs: undefined }, { size: 5, mtimeMs: 7, revision: "r1" }]) {
    assert.notEqual(remoteLine("x", other), remoteLine("x", r));
  }
  // A separator inside a field cannot make two different files one line.
  assert.notEqual(remoteLine("x", { size: 1, hash: "a|1:b", revision: "c" }), remoteLine("x", { size: 1, hash: "a", revision: "b|1:c" }));
  assert.notEqual(localLine("a|1", { size: 1, mtimeMs: 2 }), localLine("a", { size: 1, mtimeMs: 12 }));
});

test("the digests made with turns are the digests, and the event loop gets a turn between two folders once the time is up", async () => {
  const state = new CompactStateFiles();
  for (let d = 0; d < 5; d++) {
    for (let f = 0; f < 3; f++) state.add(`d${d}/f${f}.txt`, { local: { size: f, mtimeMs: 10 + f }, remote: { size: f, mtimeMs: 10 + f, revision: `r${d}${f}` } });
  }
  state.add("top.txt", { local: { size: 3, mtimeMs: 30 }, remote: { size: 3, mtimeMs: 30, revision: "r3" } });
  const files = state.seal();
  let turns = 0;
  const turn = async (): Promise<void> => {
    turns++;
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const expected = JSON.stringify(folderDigestsOf(files));
  // Every folder past the time (0 ms): a turn after each of the six.
  assert.equal(JSON.stringify(await folderDigestsWithTurns(files, undefined, turn, 0)), expected);
  assert.equal(turns, 6);
  turns = 0;
  assert.equal(JSON.stringify(await folderDigestsWithTurns(files, undefined, turn, 60_000)), expected);
  assert.equal(turns, 0, "none before the time is up");
});

test("a folder check: unchanged folders give their records up, changed ones keep them, and the run is unchanged only when every known folder was found so", () => {
  const state = new CompactStateFiles();
  state.add("a/1.txt", { local: { size: 1, mtimeMs: 10 }, remote: { size: 1, mtimeMs: 10, revision: "r1" } });
  state.add("a/2.txt", { local: { size: 2, mtimeMs: 20 }, remote: { size: 2, mtimeMs: 20, revision: "r2" } });
  state.add("top.txt", { local: { size: 3, mtimeMs: 30 }, remote: { size: 3, mtimeMs: 30, revision: "r3" } });
  const digests = readFolderDigests(JSON.parse(JSON.stringify(folderDigestsOf(state.seal()))))!;
  assert.deepEqual([...digests.local.keys()].sort(), ["", "a"]);
  const lf = (p: string, size: number, mtimeMs: number): LocalFile => ({ path: p, size, mtimeMs });
  const check = (): FolderCheck<LocalFile> => new FolderCheck<LocalFile>(digests.local, (f) => localLine(f.path, f));

  const same = check();
  same.add("a", lf("a/2.txt", 2, 20));
  same.add("a", lf("a/1.txt", 1, 10));
  assert.deepEqual(same.end("a"), []);
  same.add("", lf("top.txt", 3, 30));
  assert.deepEqual(same.endAll(), []);
  assert.equal(same.unchanged(), true);
  assert.deepEqual([...same.clean].sort(), ["", "a"]);

  const touched = check();
  touched.add("a", lf("a/1.txt", 1, 11));
  touched.add("a", lf("a/2.txt", 2, 20));
  assert.equal(touched.end("a").length, 2, "a changed folder keeps every record");
  touched.add("", lf("top.txt", 3, 30));
  touched.end("");
  assert.equal(touched.unchanged(), false);
  assert.deepEqual([...touched.clean], [""]);

  const gone = check();
  gone.add("", lf("top.txt", 3, 30));
  gone.end("");
  assert.equal(gone.unchanged(), false, "a folder the state knows that was not listed is a change");

  const added = check();
  added.add("a", lf("a/1.txt", 1, 10));
  added.add("a", lf("a/2.txt", 2, 20));
  added.end("a");
  added.add("", lf("top.txt", 3, 30));
  added.end("");
  assert.equal(added.end("new").length, 0, "a folder with nothing checkable and unknown to the state is nothing");
  added.add("b", lf("b/x.txt", 1, 1));
  assert.equal(added.end("b").length, 1);
  assert.equal(added.unchanged(), false, "a new folder with files is a change");

  const odd = check();
  odd.add("a", lf("a/1.txt", 1, 10));
  odd.add("a", lf("a/2.txt", 2, 20));
  odd.dirty("a"); // a name listed otherwise than as its key
  assert.equal(odd.end("a").length, 2);
  assert.equal(odd.clean.has("a"), false);

  const back = check();
  back.add("a", lf("a/1.txt", 1, 10));
  back.add("a", lf("a/2.txt", 2, 20));
  back.end("a");
  back.add("", lf("top.txt", 3, 30));
  back.end("");
  back.add("a", lf("a/3.txt", 1, 1));
  assert.equal(back.end("a").length, 1, "a listing that comes back to a folder: its later files are records");
  assert.equal(back.unchanged(), false);
  assert.equal(back.clean.has("a"), true, "the files seen before still match the state");
});

interface Pair {
  dir: string;
  ws: string;
  cloud: string;
  stateDir: string;
  run: (logger?: ReturnType<typeof memoryLogger>) => Promise<SyncRunResult>;
  stateFile: string;
  /** Calls to the provider (listings among them). */
  counts: Instrumented["counts"];
  id: StateIdentity;
}

async function pair(t: { after: (fn: () => Promise<void>) => void }, mode: SyncMode, prefix: string, overrides: Partial<SyncSettings> = {}, hooks?: Parameters<typeof instrument>[1]): Promise<Pair> {
  const b = await localBisync(t, prefix);
  Object.assign(b.settings, { mode, ...overrides });
  const cloud = path.join(b.cloudRoot, b.settings.remotePath!);
  await fsp.mkdir(cloud, { recursive: true });
  const provider = instrument(b.provider, hooks);
  const id: StateIdentity = { description: provider.description, remotePath: b.settings.remotePath!, workspace: b.ws };
  return {
    dir: path.dirname(b.ws),
    ws: b.ws,
    cloud,
    stateDir: b.stateDir,
    stateFile: statePathFor(b.stateDir, id),
    counts: provider.counts,
    id,
    run: (logger) => runSyncWithProvider({ settings: b.settings, provider, workspaceDir: b.ws, stateDir: b.stateDir, logger }),
  };
}

/** The per-folder digests in the state file's first line. */
async function savedDigests(p: Pair): Promise<Record<string, unknown> | undefined> {
  const text = await fsp.readFile(p.stateFile, "utf8");
  return (JSON.parse(`${text.slice(0, text.indexOf("\n"))}}}`) as { folders?: Record<string, unknown> }).folders;
}

async function nothingToDo(p: Pair): Promise<boolean> {
  const log = memoryLogger();
  ok(await p.run(log));
  return log.lines.some((l) => l.includes(UNCHANGED));
}

async function put(root: string, rel: string, text: string, mtimeS = 1_700_000_000): Promise<void> {
  const p = path.join(root, ...rel.split("/"));
  await fsp.mkdir(path.dirname(p), { recursive: true });
  await fsp.writeFile(p, text);
  await fsp.utimes(p, mtimeS, mtimeS);
}

function ok(r: SyncRunResult): Extract<SyncRunResult, { ok: true }> {
  assert.equal(r.ok, true, r.ok ? "" : String(r.error));
  return r as Extract<SyncRunResult, { ok: true }>;
}

test("a no-change run reads no state entry: a state whose entries are damaged past its first line still gives a run with nothing to do", async (t) => {
  const p = await pair(t, "bisync", "ws-digest-unread-");
  for (const f of ["a/1.txt", "a/2.txt", "b/c/3.txt", "top.txt"]) await put(p.ws, f, f);
  ok(await p.run());
  const text = await fsp.readFile(p.stateFile, "utf8");
  const first = text.slice(0, text.indexOf("\n"));
  assert.match(first, /"folders":\{"v":1,/, "the state's first line carries the digests");
  const damaged = `${first}\n!!! not JSON !!!\n}}`;
  await fsp.writeFile(p.stateFile, damaged);

  const log = memoryLogger();
  const r = ok(await p.run(log));
  assert.deepEqual([r.uploaded, r.downloaded, r.deleted], [[], [], []]);
  assert.ok(log.lines.some((l) => l.includes(UNCHANGED)), log.lines.join("\n"));
  assert.equal(await fsp.readFile(p.stateFile, "utf8"), damaged, "the state file is left as it is");

  // Once something changes, the entries are read: damaged, so a merge that deletes nothing.
  await put(p.ws, "a/1.txt", "changed", 1_700_000_100);
  await fsp.rm(path.join(p.cloud, "top.txt"));
  const log2 = memoryLogger();
  const r2 = ok(await p.run(log2));
  assert.ok(log2.lines.some((l) => l.includes("is damaged")), log2.lines.join("\n"));
  assert.deepEqual(r2.deleted, []);
  assert.equal(await fsp.readFile(path.join(p.cloud, "a", "1.txt"), "utf8"), "changed");
  assert.equal(await fsp.readFile(path.join(p.ws, "top.txt"), "utf8"), "top.txt", "nothing is deleted on a damaged state");
});

test("one changed folder among many: only its file moves, every other folder's entries are kept, and the next run has nothing to do", async (t) => {
  const p = await pair(t, "bisync", "ws-digest-one-");
  const names: string[] = [];
  for (const d of ["a", "b", "c", "c/d"]) for (const f of ["x.txt", "y.txt"]) names.push(`${d}/${f}`);
  for (const n of names) await put(p.ws, n, n);
  ok(await p.run());
  const before = await loadState(p.stateFile, p.id);
  assert.deepEqual(Object.keys(before!.files).sort(), names.sort());

  const digestsBefore = await savedDigests(p);
  await put(p.cloud, "b/y.txt", "from the cloud", 1_700_000_500);
  const lists = p.counts.list;
  const runLog = memoryLogger();
  const r = ok(await p.run(runLog));
  assert.deepEqual([r.uploaded, r.downloaded, r.deleted], [[], ["b/y.txt"], []]);
  // The other folders' entries were not read: counted, and carried over into the new state as they were.
  const carried = runLog.lines.map((l) => CARRIED.exec(l)).find((m) => m !== null);
  assert.deepEqual(carried?.slice(1), ["3", "6"], runLog.lines.join("\n"));
  assert.equal(p.counts.list - lists, 1, "the cloud is listed once: the unchanged folders' files become marks, nothing is listed again");
  // Only the changed folder's digests were computed again, and they are what a whole computation gives.
  const digestsAfter = (await savedDigests(p)) as { local: Record<string, string>; remote: Record<string, string> };
  const prior = digestsBefore as typeof digestsAfter;
  for (const f of ["a", "c", "c/d"]) assert.deepEqual([digestsAfter.local[f], digestsAfter.remote[f]], [prior.local[f], prior.remote[f]], f);
  assert.notEqual(digestsAfter.local.b, prior.local.b);
  const loaded = await loadRunState(p.stateFile, p.id);
  assert.deepEqual(JSON.parse(JSON.stringify(folderDigestsOf(loaded!.files))), digestsAfter);
  assert.equal(await fsp.readFile(path.join(p.ws, "b", "y.txt"), "utf8"), "from the cloud");
  const after = await loadState(p.stateFile, p.id);
  assert.deepEqual(Object.keys(after!.files).sort(), names.sort());
  for (const n of names) if (n !== "b/y.txt") assert.deepEqual(after!.files[n], before!.files[n], n);
  assert.notDeepEqual(after!.files["b/y.txt"], before!.files["b/y.txt"]);

  const log = memoryLogger();
  ok(await p.run(log));
  assert.ok(log.lines.some((l) => l.includes(UNCHANGED)), log.lines.join("\n"));
});

test("a cloud file swapped for another of the same size and time is still a change (the digest covers its revision)", async (t) => {
  const p = await pair(t, "bisync", "ws-digest-swap-");
  await put(p.ws, "d/same.txt", "AAAA");
  await put(p.ws, "d/other.txt", "other");
  ok(await p.run());
  ok(await p.run());
  const target = path.join(p.cloud, "d", "same.txt");
  const { mtime, ino } = await fsp.stat(target);
  // Another file renamed over it: a new inode (the old one is in use until then), same size and time.
  const other = path.join(p.dir, "other.txt");
  await fsp.writeFile(other, "BBBB");
  await fsp.utimes(other, mtime, mtime);
  await fsp.rename(other, target);
  assert.notEqual((await fsp.stat(target)).ino, ino);
  const log = memoryLogger();
  const r = ok(await p.run(log));
  assert.ok(!log.lines.some((l) => l.includes(UNCHANGED)), log.lines.join("\n"));
  assert.deepEqual(r.downloaded, ["d/same.txt"]);
  assert.equal(await fsp.readFile(path.join(p.ws, "d", "same.txt"), "utf8"), "BBBB");
});

test("a folder gone from one side is a deletion on the other; a new folder is a copy", async (t) => {
  const p = await pair(t, "bisync", "ws-digest-folders-");
  for (const f of ["keep/1.txt", "gone/1.txt", "gone/2.txt"]) await put(p.ws, f, f);
  ok(await p.run());
  await fsp.rm(path.join(p.ws, "gone"), { recursive: true });
  await put(p.cloud, "new/n.txt", "new");
  const r = ok(await p.run());
  assert.deepEqual(r.deleted, ["gone/1.txt", "gone/2.txt"]);
  assert.deepEqual(r.downloaded, ["new/n.txt"]);
  await assert.rejects(fsp.stat(path.join(p.cloud, "gone", "1.txt")));
});

test("mailbox: files in the workspace inbox do not stop a run from finding nothing to do, and the outbox is still drained", async (t) => {
  const p = await pair(t, "mailbox", "ws-digest-mailbox-");
  await put(p.ws, "notes/a.txt", "a");
  ok(await p.run());
  await put(p.ws, "_inbox/earlier.txt", "earlier");
  ok(await p.run());
  const log = memoryLogger();
  ok(await p.run(log));
  assert.ok(log.lines.some((l) => l.includes(UNCHANGED)), log.lines.join("\n"));

  await put(p.cloud, "_outbox/dropped.txt", "dropped");
  const log2 = memoryLogger();
  const r = ok(await p.run(log2));
  assert.ok(log2.lines.some((l) => l.includes(UNCHANGED)), log2.lines.join("\n"));
  assert.deepEqual(r.inboxFiles, ["dropped.txt"]);
  assert.equal(await fsp.readFile(path.join(p.ws, "_inbox", "dropped.txt"), "utf8"), "dropped");
});

/** The state file without its digests: the next run is one without them. */
async function dropDigests(stateFile: string): Promise<void> {
  let text: string;
  try {
    text = await fsp.readFile(stateFile, "utf8");
  } catch {
    return;
  }
  const nl = text.indexOf("\n");
  const head = JSON.parse(`${text.slice(0, nl)}}}`) as Record<string, unknown>;
  delete head.folders;
  delete head.files;
  await fsp.writeFile(stateFile, `${JSON.stringify(head).slice(0, -1)},"files":{${text.slice(nl)}`);
}

/** Every file under `root` with its text, by relative path. */
async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fsp.readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out[path.relative(root, abs).split(path.sep).join("/")] = await fsp.readFile(abs, "utf8");
  }
  return out;
}

// The plain folders exercise the fast paths (runs with nothing to do, folders set aside); the
// second set adds folders whose files are all in a sub-folder and one name in both Unicode forms,
// which meet other folders in the checks across folders (and keep most folders read).
const PLAIN = ["", "a", "a/b", "c", "_outbox", "_inbox"];
const MEETING = [...PLAIN, "e/f", "caf\u00e9/g", "cafe\u0301/g"];
for (const [mode, folders] of [["bisync", PLAIN], ["mirror", PLAIN], ["mailbox", PLAIN], ["bisync", MEETING], ["mailbox", MEETING]] as const) {
  const fast = folders === PLAIN;
  test(`${mode}${fast ? "" : ", folders that meet across"}: the same changes give the same runs with and without digests (40 steps of random edits on both sides)`, async (t) => {
    const withDigests = await pair(t, mode, `ws-digest-diff-a-`);
    const without = await pair(t, mode, `ws-digest-diff-b-`);
    // mulberry32: the same edits on every run of the test.
    let seed = mode.length * 7919;
    const rand = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) % n;
    };
    const names = ["1.txt", "2.txt", "3.md"];
    let clock = 1_700_000_000;
    let checked = 0;
    let failed = 0;
    let carried = 0;
    for (let step = 0; step < 40; step++) {
      // The same edits on both pairs: a few files made, changed, touched or removed on one side.
      const edits = rand(3);
      for (let i = 0; i < edits; i++) {
        const side = rand(mode === "bisync" || mode === "mailbox" ? 2 : 4) === 0 ? "cloud" : "ws";
        const folder = folders[rand(folders.length)]!;
        const rel = folder ? `${folder}/${names[rand(names.length)]}` : names[rand(names.length)]!;
        const what = rand(4);
        clock += 10;
        for (const p of [withDigests, without]) {
          const root = side === "cloud" ? p.cloud : p.ws;
          const abs = path.join(root, ...rel.split("/"));
          if (what === 0) await fsp.rm(abs, { force: true });
          else if (what === 1) {
            const st = await fsp.stat(abs).catch(() => undefined);
            if (st) await fsp.utimes(abs, clock, clock);
          } else await put(root, rel, `${rel} at ${clock} ${"x".repeat(what)}`, clock);
        }
      }
      await dropDigests(without.stateFile);
      assert.doesNotMatch(await fsp.readFile(without.stateFile, "utf8").catch(() => ""), /"folders":/);
      const log = memoryLogger();
      const ra = await withDigests.run(log);
      const rb = await without.run();
      if (!ra.ok || !rb.ok) {
        // (A run the safety checks stop, as when every workspace file is gone: stopped in both.)
        const text = (r: SyncRunResult, p: Pair): string => (r.ok ? "ok" : `${r.code}: ${r.error.split(path.dirname(p.ws)).join("<dir>").replace(/state-[0-9a-f]+\.json/g, "state-<id>.json")}`);
        assert.equal(text(ra, withDigests), text(rb, without), `step ${step}`);
        failed++;
        continue;
      }
      const [a, b] = [ra, rb];
      if (log.lines.some((l) => l.includes(UNCHANGED))) checked++;
      if (log.lines.some((l) => CARRIED.test(l))) carried++;
      // The same entries saved, those carried over unread included (the revision holds each cloud file's inode: compared apart).
      const saved = async (p: Pair): Promise<Record<string, unknown>> => {
        const files = (await loadState(p.stateFile, p.id))?.files ?? {};
        return Object.fromEntries(Object.entries(files).map(([k, e]) => [k, [e.local, e.remote.size, e.remote.mtimeMs, e.remote.hash]]));
      };
      assert.deepEqual(await saved(withDigests), await saved(without), `step ${step}: state`);
      for (const k of ["uploaded", "downloaded", "deleted", "conflicts", "inboxFiles"] as const) {
        assert.deepEqual(a[k], b[k], `step ${step}: ${k}`);
      }
      assert.deepEqual((a.skipped ?? []).map((s) => s.path), (b.skipped ?? []).map((s) => s.path), `step ${step}: skipped`);
      assert.deepEqual(await tree(withDigests.ws), await tree(without.ws), `step ${step}: workspace`);
      assert.deepEqual(await tree(withDigests.cloud), await tree(without.cloud), `step ${step}: cloud`);
    }
    // (A cloud file the state does not know, which a push leaves alone, keeps its folder changed.)
    if (fast) assert.ok(checked >= (mode === "bisync" ? 3 : 1), `some runs had nothing to do (${checked})`);
    assert.ok(failed < 10, `most runs went through (${failed} stopped)`);
    if (fast) assert.ok(carried >= 5, `runs with changes left unchanged folders unread (${carried})`);
  });
}

test("a state entry left out as damaged (a hand edit) makes its digests unused: the change behind it is found, and the digests are written again", async (t) => {
  const p = await pair(t, "mirror", "ws-digest-spoiled-");
  for (const f of ["d/a.txt", "d/x.txt", "e/y.txt"]) await put(p.ws, f, `ws ${f}`);
  ok(await p.run());
  const text = await fsp.readFile(p.stateFile, "utf8");
  const needle = `${JSON.stringify("d/x.txt")}:{"local":`;
  assert.ok(text.includes(needle));
  await fsp.writeFile(p.stateFile, text.replace(needle, `${JSON.stringify("d/x.txt")}:{"lokal":`));
  await put(p.cloud, "d/x.txt", "changed in the cloud", 1_700_000_900);
  ok(await p.run());
  assert.equal(await fsp.readFile(path.join(p.cloud, "d", "x.txt"), "utf8"), "ws d/x.txt", "the mirror puts the workspace copy back");
  assert.equal(await nothingToDo(p), true, "the state and its digests were written again");
});

test("a folder of more than the digest limit: the state keeps no digests, and runs compare file by file as before", async (t) => {
  const p = await pair(t, "bisync", "ws-digest-big-");
  const n = MAX_DIGEST_FOLDER_FILES + 1;
  await fsp.mkdir(path.join(p.ws, "big"), { recursive: true });
  for (let i = 0; i < n; i++) await fsp.writeFile(path.join(p.ws, "big", `f${i}.txt`), "x");
  await put(p.ws, "small/a.txt", "a");
  assert.equal(ok(await p.run()).uploaded.length, n + 1);
  assert.deepEqual(await savedDigests(p), { v: 1 });
  assert.equal(await nothingToDo(p), false);
  await put(p.cloud, "big/f7.txt", "changed", 1_700_000_300);
  assert.deepEqual(ok(await p.run()).downloaded, ["big/f7.txt"]);
  // Back under the limit: digests again.
  for (let i = 0; i < 10; i++) await fsp.rm(path.join(p.ws, "big", `f${i}.txt`));
  assert.equal(ok(await p.run()).deleted.length, 10);
  assert.equal(readFolderDigests(await savedDigests(p))?.local.has("big"), true);
  assert.equal(await nothingToDo(p), true);
});

test("mailbox: names in the inbox that clash by Unicode form are reported as conflicts on a run with nothing to do, as on every run", async (t) => {
  const p = await pair(t, "mailbox", "ws-digest-twin-");
  await put(p.ws, "notes/a.txt", "a");
  await put(p.ws, "_inbox/caf\u00e9.txt", "nfc");
  await put(p.ws, "_inbox/cafe\u0301.txt", "nfd");
  const first = ok(await p.run());
  assert.equal(first.conflicts.length, 1);
  const log = memoryLogger();
  const again = ok(await p.run(log));
  assert.ok(log.lines.some((l) => l.includes(UNCHANGED)), log.lines.join("\n"));
  assert.deepEqual(again.conflicts, first.conflicts);
});

test("names that look like the digests' own syntax or an object's members are found unchanged, and changes in them are seen", async (t) => {
  const p = await pair(t, "bisync", "ws-digest-names-");
  const names = ["__proto__/x.txt", "a|1:b/c:2|.txt", "n\nl/f\nx.txt", "constructor/toString", "__proto__/__proto__/y", "files/\"files\":{"];
  for (const n of names) await put(p.ws, n, n);
  ok(await p.run());
  assert.equal(await nothingToDo(p), true);
  await put(p.cloud, "n\nl/f\nx.txt", "changed", 1_700_000_500);
  assert.deepEqual(ok(await p.run()).downloaded, ["n\nl/f\nx.txt"]);
  await fsp.rm(path.join(p.ws, "__proto__", "__proto__", "y"));
  assert.deepEqual(ok(await p.run()).deleted, ["__proto__/__proto__/y"]);
  assert.equal(await nothingToDo(p), true);
});

test("with copySymlinks, a file reached through a new link on an otherwise unchanged run is synced", async (t) => {
  const p = await pair(t, "bisync", "ws-digest-link-", { copySymlinks: true });
  await put(p.ws, "a/x.txt", "x");
  await put(p.dir, "outside/t.txt", "target");
  ok(await p.run());
  assert.equal(await nothingToDo(p), true);
  await fsp.symlink(path.join(p.dir, "outside", "t.txt"), path.join(p.ws, "a", "link.txt"));
  assert.deepEqual(ok(await p.run()).uploaded, ["a/link.txt"]);
});

test("a new folder with a name in another Unicode form on an otherwise unchanged run is synced", async (t) => {
  const p = await pair(t, "bisync", "ws-digest-nfd-");
  await put(p.ws, "a/x.txt", "x");
  ok(await p.run());
  assert.equal(await nothingToDo(p), true);
  await put(p.ws, "cafe\u0301/n.txt", "nfd");
  assert.equal(ok(await p.run()).uploaded.length, 1);
});

test("digests are kept only beside the entries they were computed from: a state loaded as a record has none, and an entry the loader leaves out drops them", async (t) => {
  const p = await pair(t, "mirror", "ws-digest-resign-");
  for (const f of ["d/a.txt", "d/x.txt"]) await put(p.ws, f, `ws ${f}`);
  ok(await p.run());
  assert.ok(readFolderDigests((await loadRunState(p.stateFile, p.id))!.folders), "a run's load keeps verified digests");
  // A caller that edits the files through the public record loader and saves them.
  const record = (await loadState(p.stateFile, p.id))!;
  assert.equal(record.folders, undefined);
  delete record.files["d/x.txt"];
  await saveState(p.stateFile, record);
  await put(p.cloud, "d/x.txt", "changed in the cloud", 1_700_000_900);
  ok(await p.run());
  assert.equal(await fsp.readFile(path.join(p.cloud, "d", "x.txt"), "utf8"), "ws d/x.txt", "the mirror puts the workspace copy back");

  // Text whose hash matches but whose entry is not a state entry's shape (saved by hand through saveState).
  const state = (await loadRunState(p.stateFile, p.id))!;
  const bad = { ...state, files: { "d/a.txt": state.files.get("d/a.txt")!, "d/x.txt": { local: { size: "x", mtimeMs: 1 }, remote: { size: 1 } } as unknown as StateEntry } };
  await saveState(p.stateFile, bad);
  assert.equal((await loadRunState(p.stateFile, p.id))!.folders, undefined);
});

{
  /** The state's text with the entry of `key` left out and its entries' hash made right again (as a careful forger would). */
  const withoutEntry = (text: string, key: string): string => {
    const lines = text.split("\n");
    const entries = lines.slice(1, -1).map((l) => l.replace(/,$/, "")).filter((l) => !l.startsWith(`${JSON.stringify(key)}:`));
    const joined = entries.join(",\n");
    const sha = createHash("sha256").update(joined).digest("hex");
    return `${lines[0]}\n${joined}\n${lines.at(-1)!.replace(/"filesSha256":"[0-9a-f]+"/, `"filesSha256":"${sha}"`)}`;
  };
  const writers: { name: string; write: (text: string) => string | undefined }[] = [
    { name: "saved at another time", write: (text) => text.replace(/"savedAt":"[^"]+"/, '"savedAt":"2000-01-01T00:00:00.000Z"') },
    { name: "an entry carried unread changed", write: (text) => text.replace(/("c\/3\.txt":\{"local":\{"size":)7/, "$18") },
    { name: "an entry carried unread left out, its hash made right", write: (text) => withoutEntry(text, "c/3.txt") },
    { name: "removed", write: () => undefined },
  ];
  for (const w of writers) {
    test(`the state file changed by another process while a run with changes is under way (${w.name}): that run saves nothing and fails, and the next run goes through`, async (t) => {
      let other: (() => void) | undefined;
      const p = await pair(t, "bisync", "ws-digest-raced-", {}, { onWrite: () => other?.() });
      for (const f of ["a/1.txt", "b/2.txt", "c/3.txt"]) await put(p.ws, f, f);
      ok(await p.run());
      await put(p.ws, "a/1.txt", "changed", 1_700_000_100);
      let written: string | undefined;
      other = () => {
        // Another writer (a hand edit, or a process that ignores the lock).
        const before = readFileSync(p.stateFile, "utf8");
        written = w.write(before);
        assert.notEqual(written, before);
        if (written === undefined) unlinkSync(p.stateFile);
        else writeFileSync(p.stateFile, written);
        other = undefined;
      };
      const log = memoryLogger();
      const r = await p.run(log);
      assert.ok(log.lines.some((l) => CARRIED.test(l)), log.lines.join("\n"));
      assert.ok(!r.ok && r.code === "LOCKED" && /changed by another process during this run/.test(r.error), JSON.stringify(r));
      assert.equal(await fsp.readFile(p.stateFile, "utf8").catch(() => undefined), written, "the other writer's state stands");
      assert.deepEqual((await fsp.readdir(path.dirname(p.stateFile))).filter((n) => n.endsWith(".tmp")), [], "no temp file is left");
      assert.equal(await fsp.readFile(path.join(p.cloud, "a", "1.txt"), "utf8"), "changed");

      // The next run compares again, loses nothing, and a run after it has nothing to do.
      const r2 = ok(await p.run());
      assert.deepEqual([r2.deleted, r2.conflicts], [[], []]);
      const after = await loadState(p.stateFile, p.id);
      assert.deepEqual(Object.keys(after!.files).sort(), ["a/1.txt", "b/2.txt", "c/3.txt"].filter((k) => !w.name.includes("left out") || k !== "c/3.txt"));
      for (const f of ["b/2.txt", "c/3.txt"]) assert.equal(await fsp.readFile(path.join(p.cloud, ...f.split("/")), "utf8"), f);
      ok(await p.run());
      assert.ok(await nothingToDo(p));
    });
  }
}

{
  // Folders whose files are all in unchanged sub-folders (set aside, unread): each change below
  // meets them through a check across folders, and must give what a run reading every entry gives.
  const nfc = "caf\u00e9";
  const nfd = "cafe\u0301";
  const shapes: { name: string; mode: SyncMode; base: string[]; side: "ws" | "cloud"; add: string; carried: string[] }[] = [
    { name: "a cloud file in a folder spelled in the other form, whose files are all in a sub-folder, lands in the workspace's spelling", mode: "bisync", base: [`${nfc}/sub/x.txt`, "b/y.txt"], side: "cloud", add: `${nfd}/new.txt`, carried: ["1", "1"] },
    { name: "the same two folders deep", mode: "bisync", base: [`d/${nfc}/sub/x.txt`, "b/y.txt"], side: "cloud", add: `d/${nfd}/n/new.txt`, carried: ["1", "1"] },
    { name: "a workspace file named like such a folder in the other form is skipped as a clash (bisync)", mode: "bisync", base: [`${nfc}/sub/x.txt`, "b/y.txt"], side: "ws", add: nfd, carried: ["1", "1"] },
    { name: "a workspace file named like such a folder in the other form is skipped as a clash (mirror)", mode: "mirror", base: [`${nfc}/sub/x.txt`, "b/y.txt"], side: "ws", add: nfd, carried: ["1", "1"] },
    { name: "a cloud file named like such a folder in the other form is left in the cloud", mode: "bisync", base: [`${nfc}/sub/x.txt`, "b/y.txt"], side: "cloud", add: nfd, carried: ["1", "1"] },
    { name: "a cloud file beside a folder whose files are in a sub-folder", mode: "bisync", base: ["e/sub/x.txt", "b/y.txt"], side: "cloud", add: "e/new.txt", carried: ["2", "2"] },
    { name: "a name in the other form deep in one folder leaves the folders beside it set aside", mode: "bisync", base: ["deep/d0/x.txt", "deep/d1/w.txt", "b/y.txt", "c/z.txt"], side: "ws", add: `deep/d0/${nfd}.txt`, carried: ["2", "2"] },
  ];
  for (const s of shapes) {
    test(`set aside or not, the same run: ${s.name}`, async (t) => {
      const withDigests = await pair(t, s.mode, "ws-digest-shape-a-");
      const without = await pair(t, s.mode, "ws-digest-shape-b-");
      for (const p of [withDigests, without]) {
        for (const f of s.base) await put(p.ws, f, f);
        ok(await p.run());
        await put(s.side === "ws" ? p.ws : p.cloud, s.add, "added", 1_700_000_300);
      }
      await dropDigests(without.stateFile);
      const log = memoryLogger();
      const ra = ok(await withDigests.run(log));
      const rb = ok(await without.run());
      const seen = (r: SyncRunResult): unknown => (r.ok ? [r.uploaded, r.downloaded, r.deleted, r.conflicts, (r.skipped ?? []).map((n) => `${n.path}: ${n.reason}`)] : r.code);
      assert.deepEqual(seen(ra), seen(rb));
      assert.deepEqual(await tree(withDigests.ws), await tree(without.ws));
      assert.deepEqual(await tree(withDigests.cloud), await tree(without.cloud));
      const keys = async (p: Pair): Promise<string[]> => Object.keys((await loadState(p.stateFile, p.id))?.files ?? {}).sort();
      assert.deepEqual(await keys(withDigests), await keys(without));
      // What was set aside: the folders nothing meets (b; beside a name spelled otherwise than its
      // key, not the folders under those above it, which take their workspace spelling from them).
      const carried = log.lines.map((l) => CARRIED.exec(l)).find((m) => m !== null)?.slice(1) ?? [];
      assert.deepEqual(carried, s.carried, log.lines.join("\n"));
    });
  }
}

test("a symlink new in a folder otherwise unchanged, on a run with other changes: reported and left alone, and every entry kept", async (t) => {
  const p = await pair(t, "mirror", "ws-digest-link-");
  for (const f of ["a/1.txt", "b/2.txt", "c/3.txt"]) await put(p.ws, f, f);
  ok(await p.run());
  await fsp.symlink("../c", path.join(p.ws, "b", "link"));
  await put(p.ws, "a/1.txt", "changed", 1_700_000_100);
  const log = memoryLogger();
  const r = ok(await p.run(log));
  assert.deepEqual([r.uploaded, r.deleted], [["a/1.txt"], []]);
  assert.ok((r.skipped ?? []).some((s) => s.path === "b/link"), JSON.stringify(r.skipped));
  assert.deepEqual(log.lines.map((l) => CARRIED.exec(l)).find((m) => m !== null)?.slice(1), ["1", "1"], log.lines.join("\n"));
  assert.deepEqual(Object.keys((await loadState(p.stateFile, p.id))!.files).sort(), ["a/1.txt", "b/2.txt", "c/3.txt"]);
  await assert.rejects(fsp.lstat(path.join(p.cloud, "b", "link")));
});
