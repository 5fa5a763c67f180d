/**
 * The local provider's copy lane (`providers/local/copy-lane.ts`): small copies of write series 1
 * are made on a thread of their own, and give exactly what the main thread's copies give (bytes,
 * mode, time, entry); whatever the thread cannot copy safely (a symlink or folder at the name, a
 * folder swapped for a link, a source swapped for one) is copied again by the main thread, which
 * refuses it as before, with nothing written through a link. A thread that cannot start leaves
 * every copy to the main thread. No descriptor is left open once the provider is closed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { promises as fsp, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { pathToFileURL } from "node:url";
import { WorkspaceSyncError } from "../src/errors.js";
import { LOCAL_TEMP_PREFIX, createLocalProvider } from "../src/providers/local/index.js";
import { COPY_LANE_GIVE_UP, laneCopies, setCopyLaneTuning } from "../src/providers/local/copy-lane.js";
import type { RemoteEntry, StorageProvider, ThreadWrites } from "../src/providers/types.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { halfOf, twoHalves } from "../src/util/concurrency.js";
import { LocalPathError, WorkspaceFs } from "../src/util/safe-fs.js";
import { silentLogger } from "../src/logger.js";
import { syncSettings } from "./sync-suite.js";
import { ONE_CORE, countThreads } from "./support/threads.js";
import { tempDir as makeTempDir } from "./support/tree.js";

async function tempDir(t: TestContext, prefix = "ws-copy-lane-"): Promise<string> {
  const { dir, cleanup } = await makeTempDir(prefix);
  t.after(cleanup);
  return dir;
}

/** The lane starts at the first small copy (not after 256 on the main thread), for this test. */
function laneFromTheStart(t: TestContext, module?: URL): void {
  setCopyLaneTuning({ after: 0, ...(module ? { module } : {}) });
  t.after(() => setCopyLaneTuning());
}

/**
 * A test's folders (`ws` the workspace, `cloud` the provider's, made: its very first copy, which
 * makes it, is the main thread's), the lane from the start, a provider closed after the test, and
 * the workspace's guard.
 */
async function laneSetUp(t: TestContext): Promise<{ dir: string; ws: string; cloud: string; provider: StorageProvider; wfs: WorkspaceFs }> {
  const dir = await tempDir(t);
  const ws = path.join(dir, "ws");
  const cloud = path.join(dir, "cloud");
  await fsp.mkdir(ws);
  await fsp.mkdir(cloud);
  laneFromTheStart(t);
  const provider = createLocalProvider({ root: cloud }, { logger: silentLogger });
  t.after(() => provider.close?.());
  return { dir, ws, cloud, provider, wfs: await WorkspaceFs.open(ws) };
}

/** Writes each of `files` (relative path → text) under `root`, making its folders. */
async function writeAll(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fsp.writeFile(path.join(root, rel), text);
  }
}

/** This process's open descriptors of anything under `dir`. */
function openFdsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target === dir || target.startsWith(`${dir}/`)) out.push(target);
    } catch {
      // (closed meanwhile: the listing's own descriptor)
    }
  }
  return out;
}

interface Made {
  rel: string;
  size: number;
  mode: number;
  mtimeNs: bigint;
}

/** Files of every small size class, mode and time (nanoseconds) in `count / 3` per folder of three. */
async function workspace(ws: string, count: number): Promise<Made[]> {
  const sizes = [0, 1, 9, 4096, 70_000, 256 * 1024];
  const modes = [0o644, 0o600, 0o755, 0o640];
  const made: Made[] = [];
  for (let i = 0; i < count; i++) {
    const rel = `${["alpha", "beta", "gamma/deep"][i % 3]}/f${String(i).padStart(4, "0")}.bin`;
    const abs = path.join(ws, rel);
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    const size = sizes[i % sizes.length]!;
    await fsp.writeFile(abs, Buffer.alloc(size, i % 251));
    const mode = modes[i % modes.length]!;
    await fsp.chmod(abs, mode);
    const mtimeNs = 1_700_000_000_123_456_789n + BigInt(i) * 1_000_001_001n;
    made.push({ rel, size, mode, mtimeNs });
  }
  return made;
}

/** Writes every file with `provider`, four at a time (as the executor does), in `series`. */
async function copyAll(provider: StorageProvider, wfs: WorkspaceFs, made: Made[], under: string, series: number): Promise<Map<string, RemoteEntry>> {
  const out = new Map<string, RemoteEntry>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < made.length) {
        const m = made[next++]!;
        const entry = await provider.write(`${under}/${m.rel}`, Readable.from([]), { sourceFile: wfs.source(m.rel), sizeHint: m.size, mtimeNs: m.mtimeNs, series });
        out.set(m.rel, entry);
      }
    }),
  );
  return out;
}

/** What a copy holds that a reader sees: bytes, mode, time (nanoseconds). */
async function described(abs: string): Promise<string> {
  const st = await fsp.lstat(abs, { bigint: true });
  const bytes = await fsp.readFile(abs);
  return `${st.isFile()} ${(Number(st.mode) & 0o7777).toString(8)} ${String(st.mtimeNs)} ${bytes.length} ${bytes.toString("base64").slice(0, 40)}`;
}

/** Every name under `dir` (relative, sorted). */
async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) out.push(path.relative(dir, path.join(e.parentPath ?? e.path, e.name)));
  return out.sort();
}

test("small copies of series 1 are made on the copy thread, with the bytes, mode, time and entry the main thread's copies get", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const dir = await tempDir(t);
  const ws = path.join(dir, "ws");
  const cloud = path.join(dir, "cloud");
  const made = await workspace(ws, 150);
  laneFromTheStart(t);
  const provider = createLocalProvider({ root: cloud }, { logger: silentLogger });
  t.after(() => provider.close?.());
  const wfs = await WorkspaceFs.open(ws);

  const onMain = await copyAll(provider, wfs, made, "main", 0);
  const before = laneCopies();
  const { value: onLane, threads } = await countThreads(() => copyAll(provider, wfs, made, "lane", 1));
  assert.equal(threads, 1, "one copy thread");
  assert.equal(laneCopies() - before, made.length, "every copy of series 1 made on the thread");

  for (const m of made) {
    const a = await described(path.join(cloud, "main", m.rel));
    const b = await described(path.join(cloud, "lane", m.rel));
    assert.equal(b, a, m.rel);
    const [isFile, mode, mtimeNs, size] = a.split(" ");
    assert.deepEqual([isFile, mode, size], ["true", m.mode.toString(8), String(m.size)], m.rel);
    const off = BigInt(mtimeNs!) - m.mtimeNs;
    assert.ok(off > -1000n && off < 1000n, `${m.rel}: its time to the microsecond (${off} ns off)`);
    const e1 = onMain.get(m.rel)!;
    const e2 = onLane.get(m.rel)!;
    const ino = (await fsp.stat(path.join(cloud, "lane", m.rel), { bigint: true })).ino;
    assert.deepEqual({ ...e2, revision: undefined, path: undefined }, { ...e1, revision: undefined, path: undefined }, m.rel);
    assert.equal(e2.path, `lane/${m.rel}`);
    assert.equal(e2.revision, `${m.size}:${Number(m.mtimeNs / 1_000_000n)}:${ino}`, "its revision names the copy's own inode");
  }
  assert.deepEqual((await names(cloud)).filter((n) => path.basename(n).startsWith(LOCAL_TEMP_PREFIX)), [], "no temp file left");
  // Between jobs the lane holds one folder for its thread; sources are closed as each job ends.
  const held = openFdsUnder(dir);
  assert.ok(held.length <= 1 && held.every((f) => f.startsWith(path.join(cloud, "lane"))), `held between jobs: ${held.join(", ")}`);
  await provider.close?.();
  assert.deepEqual(openFdsUnder(dir), [], "every descriptor closed");
});

test("a first sync makes its copies on two threads, and its cloud folder and state are those of a sync on one", { timeout: 120_000, skip: ONE_CORE }, async (t) => {
  const dir = await tempDir(t);
  const ws = path.join(dir, "ws");
  await workspace(ws, 600);
  const run = async (cloud: string, state: string): Promise<{ threads: number; lane: number }> => {
    const before = laneCopies();
    const settings = syncSettings({ mode: "mirror", remotePath: "share" });
    const { value, threads } = await countThreads(() => runSyncWithProvider({ settings, provider: createLocalProvider({ root: cloud }), workspaceDir: ws, stateDir: state }));
    assert.ok(value.ok, !value.ok ? value.error : "");
    assert.equal(value.uploaded.length, 600);
    assert.deepEqual([...value.uploaded].sort(), (await names(ws)).filter((n) => n.endsWith(".bin")), "each file uploaded once");
    // Then nothing to do: the state written matches both sides.
    const again = await runSyncWithProvider({ settings, provider: createLocalProvider({ root: cloud }), workspaceDir: ws, stateDir: state });
    assert.ok(again.ok);
    assert.deepEqual([again.uploaded, again.downloaded, again.deleted], [[], [], []]);
    return { threads, lane: laneCopies() - before };
  };
  setCopyLaneTuning({ after: Infinity });
  t.after(() => setCopyLaneTuning());
  const one = await run(path.join(dir, "cloud-one"), path.join(dir, "state-one"));
  assert.deepEqual(one, { threads: 0, lane: 0 });
  laneFromTheStart(t);
  const two = await run(path.join(dir, "cloud-two"), path.join(dir, "state-two"));
  assert.equal(two.threads, 1);
  // The executor's second half (eight of its nine workers: `threadWrites`) goes to the thread. How much of it
  // the thread makes depends on how soon it is up: the main thread, done with its own half,
  // takes what is left of the other from its end (70 of 600 on the thread once, on a loaded
  // machine; ~300 on an idle one).
  assert.ok(two.lane > 0 && two.lane < 600, `${two.lane} of 600 copied on the thread`);
  const a = path.join(dir, "cloud-one", "share");
  const b = path.join(dir, "cloud-two", "share");
  const listed = await names(a);
  assert.deepEqual(await names(b), listed);
  for (const n of listed) if (n.endsWith(".bin")) assert.equal(await described(path.join(b, n)), await described(path.join(a, n)), n);
});

test("a symlink or a folder at a copy's name is refused as on the main thread, and left as it was", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const { dir, ws, cloud, provider, wfs } = await laneSetUp(t);
  const outside = path.join(dir, "outside.txt");
  await writeAll(ws, { "f/link.txt": "workspace bytes", "f/dir.txt": "workspace bytes", "f/ok.txt": "fine", "f/fifo.txt": "workspace bytes" });
  await fsp.writeFile(outside, "not ours");
  await fsp.mkdir(path.join(cloud, "f", "dir.txt"), { recursive: true });
  await fsp.symlink(outside, path.join(cloud, "f", "link.txt"));
  // (A rename would replace a FIFO, as it replaces a file: it must be refused before.)
  const mkfifo = spawnSync("mkfifo", [path.join(cloud, "f", "fifo.txt")]);
  assert.equal(mkfifo.status, 0, String(mkfifo.stderr));
  const write = (rel: string): Promise<RemoteEntry> => provider.write(rel, Readable.from([]), { sourceFile: wfs.source(rel), sizeHint: 15, series: 1 });
  const before = laneCopies();
  await write("f/ok.txt");
  assert.equal(laneCopies() - before, 1, "the thread copies what it can");
  await assert.rejects(write("f/link.txt"), (err: unknown) => err instanceof LocalPathError && /a symlink in the local provider folder has this name; it is never replaced/.test(err.message));
  await assert.rejects(write("f/dir.txt"), (err: unknown) => err instanceof LocalPathError && /a folder in the local provider folder has this file's name/.test(err.message));
  await assert.rejects(write("f/fifo.txt"), (err: unknown) => err instanceof LocalPathError && /a special file in the local provider folder has this name/.test(err.message));
  assert.equal(laneCopies() - before, 1);
  assert.ok((await fsp.lstat(path.join(cloud, "f", "fifo.txt"))).isFIFO(), "the FIFO is left as it was");
  assert.equal(await fsp.readlink(path.join(cloud, "f", "link.txt")), outside);
  assert.equal(await fsp.readFile(outside, "utf8"), "not ours");
  assert.deepEqual(await fsp.readdir(path.join(cloud, "f", "dir.txt")), []);
  assert.deepEqual(await fsp.readdir(path.join(cloud, "f")), ["dir.txt", "fifo.txt", "link.txt", "ok.txt"], "no temp file left");
  await provider.close?.();
});

test("a folder moved away and replaced by a symlink while the thread writes into it gets nothing more, nor does the link's target", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const { dir, ws, cloud, provider, wfs } = await laneSetUp(t);
  const elsewhere = path.join(dir, "elsewhere");
  await fsp.mkdir(elsewhere);
  await writeAll(ws, { "d/a.txt": "a.txt", "d/b.txt": "b.txt" });
  const write = (rel: string): Promise<RemoteEntry> => provider.write(rel, Readable.from([]), { sourceFile: wfs.source(rel), sizeHint: 5, series: 1 });
  const before = laneCopies();
  await write("d/a.txt");
  assert.equal(laneCopies() - before, 1);
  // The thread holds a descriptor of cloud/d; the folder goes away and a link takes its name.
  await fsp.rename(path.join(cloud, "d"), path.join(dir, "moved"));
  await fsp.symlink(elsewhere, path.join(cloud, "d"));
  await assert.rejects(write("d/b.txt"), (err: unknown) => err instanceof LocalPathError && /symlink/.test(err.message));
  assert.equal(laneCopies() - before, 1, "the thread refused it");
  assert.deepEqual(await fsp.readdir(elsewhere), [], "nothing written through the link");
  assert.deepEqual(await fsp.readdir(path.join(dir, "moved")), ["a.txt"], "nothing written into the folder moved away");
  await provider.close?.();
});

test("a source swapped for a symlink after it was listed is refused, and what the link points at is not copied", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const { dir, ws, cloud, provider, wfs } = await laneSetUp(t);
  const secret = path.join(dir, "secret.txt");
  await writeAll(ws, { "d/a.txt": "a", "d/b.txt": "b" });
  await fsp.writeFile(secret, "secret bytes");
  const before = laneCopies();
  await provider.write("d/a.txt", Readable.from([]), { sourceFile: wfs.source("d/a.txt"), sizeHint: 1, series: 1 });
  // Handed out (as the executor does), then swapped before the copy opens it.
  const source = wfs.source("d/b.txt");
  await fsp.rm(path.join(ws, "d", "b.txt"));
  await fsp.symlink(secret, path.join(ws, "d", "b.txt"));
  await assert.rejects(provider.write("d/b.txt", Readable.from([]), { sourceFile: source, sizeHint: 1, series: 1 }), (err: unknown) => err instanceof LocalPathError);
  // A folder on the way swapped for a link to a folder holding a file of that name.
  await fsp.mkdir(path.join(dir, "decoy"));
  await fsp.writeFile(path.join(dir, "decoy", "a.txt"), "decoy bytes");
  const again = wfs.source("d/a.txt");
  await fsp.rename(path.join(ws, "d"), path.join(dir, "ws-d"));
  await fsp.symlink(path.join(dir, "decoy"), path.join(ws, "d"));
  await assert.rejects(provider.write("d/again.txt", Readable.from([]), { sourceFile: again, sizeHint: 1, series: 1 }), (err: unknown) => err instanceof LocalPathError);
  assert.equal(laneCopies() - before, 1);
  assert.deepEqual(await fsp.readdir(path.join(cloud, "d")), ["a.txt"]);
  assert.equal(await fsp.readFile(path.join(cloud, "d", "a.txt"), "utf8"), "a");
  await provider.close?.();
});

test("a copy dated past 2262 (outside 64-bit nanoseconds) gets the time a main-thread copy gets", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const { ws, cloud, provider, wfs } = await laneSetUp(t);
  await writeAll(ws, { "d/a.txt": "first", "d/far.txt": "far" });
  const far = 10_413_792_000_123_456_789n; // 2300-01-01, past the 2^63 ns a BigInt64Array holds
  const write = (to: string, rel: string, series?: number): Promise<RemoteEntry> =>
    provider.write(to, Readable.from([]), { sourceFile: wfs.source(rel), sizeHint: 3, mtimeNs: far, ...(series !== undefined ? { series } : {}) });
  // The thread is up and copying (its first copy).
  await provider.write("t/a.txt", Readable.from([]), { sourceFile: wfs.source("d/a.txt"), sizeHint: 5, series: 1 });
  const onMain = await write("main/far.txt", "d/far.txt");
  const kept = (await fsp.lstat(path.join(cloud, "main/far.txt"), { bigint: true })).mtimeNs;
  if (kept <= 2n ** 63n - 1n) return t.skip(`this file system keeps no time past 2262 (${String(kept)})`);
  const viaLane = await write("t/far.txt", "d/far.txt", 1);
  assert.equal(viaLane.mtimeNs, onMain.mtimeNs);
  assert.equal(viaLane.mtimeNs, kept);
  assert.equal(viaLane.mtime?.getTime(), onMain.mtime?.getTime());
  assert.equal((await fsp.lstat(path.join(cloud, "t/far.txt"), { bigint: true })).mtimeNs, kept, "the copy on disk has the time");
});

/**
 * A workspace of `count` files and a provider whose copy thread fails as it starts (its module
 * throws), run from the first small copy; the provider is closed after the test.
 */
async function brokenLaneSetUp(t: TestContext, count: number): Promise<{ dir: string; cloud: string; made: Made[]; provider: StorageProvider; wfs: WorkspaceFs }> {
  const dir = await tempDir(t);
  const ws = path.join(dir, "ws");
  const cloud = path.join(dir, "cloud");
  const made = await workspace(ws, count);
  const broken = path.join(dir, "broken-copy-worker.mjs");
  await fsp.writeFile(broken, 'throw new Error("this copy thread cannot start");\n');
  laneFromTheStart(t, pathToFileURL(broken));
  const provider = createLocalProvider({ root: cloud }, { logger: silentLogger });
  t.after(() => provider.close?.());
  return { dir, cloud, made, provider, wfs: await WorkspaceFs.open(ws) };
}

test("a copy thread that cannot start leaves every copy to the main thread", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const { dir, cloud, made, provider, wfs } = await brokenLaneSetUp(t, 60);
  const before = laneCopies();
  const { value: entries, threads } = await countThreads(() => copyAll(provider, wfs, made, "x", 1));
  assert.ok(threads >= 1, "it was started");
  assert.equal(laneCopies() - before, 0);
  assert.equal(entries.size, made.length);
  for (const m of made) {
    const st = await fsp.stat(path.join(cloud, "x", m.rel), { bigint: true });
    assert.equal(Number(st.size), m.size);
    assert.equal(Number(st.mode) & 0o7777, m.mode);
  }
  await provider.close?.();
  assert.deepEqual(openFdsUnder(dir), [], "every descriptor closed");
});

test("a copy thread that keeps failing is started again only until COPY_LANE_GIVE_UP of its copies in a row came back", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const { made, provider, wfs } = await brokenLaneSetUp(t, 600);
  const { value: entries, threads } = await countThreads(() => copyAll(provider, wfs, made, "x", 1));
  assert.equal(entries.size, made.length, "every copy made, on the main thread");
  // Each thread takes at most 4 of them (copyAll's four writers) before its failure sends them back.
  assert.ok(threads >= 1 && threads <= COPY_LANE_GIVE_UP, `${threads} threads started for ${made.length} copies`);
});

test("closing the provider with copies in flight lets the thread finish them: every write resolves, no temp file is left, no thread starts after", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const { dir, ws, cloud, provider, wfs } = await laneSetUp(t);
  const made = await workspace(ws, 24);
  const write = (m: Made): Promise<RemoteEntry> => provider.write(`x/${m.rel}`, Readable.from([]), { sourceFile: wfs.source(m.rel), sizeHint: m.size, mtimeNs: m.mtimeNs, series: 1 });
  const before = laneCopies();
  await write(made[0]!);
  // Eight in flight (the lane's slots: each queued within a few microtasks, and settled only
  // when this thread next looks, which takes a turn of its event loop), then the close.
  const inFlight = made.slice(1, 9).map(write);
  for (let i = 0; i < 50; i++) await Promise.resolve();
  const closed = provider.close?.();
  const entries = await Promise.all(inFlight);
  await closed;
  assert.equal(entries.length, 8);
  assert.equal(laneCopies() - before, 9, "the thread made every one of them, none cut short and made again");
  assert.deepEqual((await names(cloud)).filter((n) => path.basename(n).startsWith(LOCAL_TEMP_PREFIX)), [], "no temp file left");
  const after = await countThreads(() => write(made[9]!));
  assert.equal(after.threads, 0, "a write after the close copies on the main thread");
  // (The main thread holds the folder it copied into until the end of this turn of its event loop.)
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(openFdsUnder(dir), [], "every descriptor closed");
});

test("a copy thread left without jobs stops on its own, and so does one that never got one", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const dir = await tempDir(t);
  const ws = path.join(dir, "ws");
  const cloud = path.join(dir, "cloud");
  const made = await workspace(ws, 3);
  await fsp.mkdir(cloud);
  await fsp.mkdir(path.join(dir, "elsewhere"));
  await fsp.symlink(path.join(dir, "elsewhere"), path.join(cloud, "linked"));
  laneFromTheStart(t);
  const wfs = await WorkspaceFs.open(ws);
  /** Waits (at most 5 s) for the threads that `run` started to end, with no close. */
  const endsOnItsOwn = async (run: (provider: StorageProvider) => Promise<unknown>): Promise<void> => {
    const provider = createLocalProvider({ root: cloud }, { logger: silentLogger });
    t.after(() => provider.close?.());
    // (Node tells of a thread started a turn of the event loop later.)
    const { threads, exits } = await countThreads(async () => {
      await run(provider);
      await new Promise((resolve) => setImmediate(resolve));
    });
    assert.equal(threads, 1);
    // (A timer that keeps this process alive meanwhile: the thread and its idle timer do not.)
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(exits), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("the thread is still running after 5 s")), 5000)))]);
    clearTimeout(timer);
    assert.deepEqual(openFdsUnder(dir), [], "its folder closed with it");
  };
  await endsOnItsOwn(async (provider) => {
    for (const m of made) await provider.write(`x/${m.rel}`, Readable.from([]), { sourceFile: wfs.source(m.rel), sizeHint: m.size, series: 1 });
  });
  // Started for a copy into a folder that is a link: refused here, no job for the thread.
  const m = made[0]!;
  await endsOnItsOwn((provider) => assert.rejects(provider.write(`linked/${m.rel}`, Readable.from([]), { sourceFile: wfs.source(m.rel), sizeHint: m.size, series: 1 }), LocalPathError));
  assert.deepEqual(await fsp.readdir(path.join(dir, "elsewhere")), []);
});

test("a sync keeps the copy thread's slots in flight for its small copies of the plan's second half, its other transfers within concurrency; concurrency 1 keeps one in all", { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const ws = path.join(dir, "ws");
  await workspace(ws, 120);
  // Larger than the thread takes: streamed on the main thread, within `concurrency`.
  const large = path.join(dir, "ws-large");
  for (let i = 0; i < 24; i++) await writeAll(large, { [`big/b${String(i).padStart(2, "0")}.bin`]: "x".repeat(256 * 1024 + 1 + i) });
  laneFromTheStart(t);
  const inFlight = async (name: string, from: string, concurrency: number, threadWrites: ThreadWrites | undefined): Promise<{ most: number[]; all: number; lane: number }> => {
    const inner = createLocalProvider({ root: path.join(dir, `cloud-${name}`) });
    const now = [0, 0];
    const most = [0, 0];
    let all = 0;
    let mostAll = 0;
    const provider: StorageProvider = Object.create(inner, {
      capabilities: { value: { ...inner.capabilities, threadWrites } },
      write: {
        value: async (...args: Parameters<StorageProvider["write"]>) => {
          const series = args[2]?.series ?? 0;
          now[series]!++;
          most[series] = Math.max(most[series]!, now[series]!);
          mostAll = Math.max(mostAll, ++all);
          try {
            return await inner.write(...args);
          } finally {
            now[series]!--;
            all--;
          }
        },
      },
    });
    const before = laneCopies();
    const settings = syncSettings({ mode: "mirror", remotePath: "share", concurrency });
    const result = await runSyncWithProvider({ settings, provider, workspaceDir: from, stateDir: path.join(dir, `state-${name}`) });
    assert.ok(result.ok, !result.ok ? result.error : "");
    assert.equal(result.uploaded.length, from === ws ? 120 : 24);
    await inner.close?.();
    return { most, all: mostAll, lane: laneCopies() - before };
  };
  const local = createLocalProvider({ root: dir }).capabilities.threadWrites;
  assert.deepEqual(local, { slots: 8, largestBytes: 256 * 1024 }, "the local provider's copy thread holds eight jobs of files up to 256 KiB");
  const small = await inFlight("local", ws, 4, local);
  assert.deepEqual([small.most, small.all], [[1, 8], 9]);
  if (!ONE_CORE) assert.ok(small.lane > 0, "the thread made some of them");
  assert.deepEqual((await inFlight("large", large, 4, local)).all, 4, "transfers the thread does not take: within concurrency");
  const one = await inFlight("one", ws, 1, local);
  assert.deepEqual([one.most, one.all, one.lane], [[1, 0], 1, 0], "concurrency 1: one half, no series for a thread");
  assert.deepEqual((await inFlight("twelve", ws, 12, local)).most, [1, 11], "a larger concurrency stands");
  assert.deepEqual((await inFlight("other", ws, 4, undefined)).most, [1, 3], "a provider without a thread of its own: concurrency as it is");
  for (const odd of [{ slots: Number.NaN, largestBytes: 1 }, { slots: 0, largestBytes: 1 }, { slots: 1e9, largestBytes: 1 }, { slots: 2.5, largestBytes: 1 }]) {
    assert.equal((await inFlight(`odd-${String(odd.slots)}`, ws, 4, odd)).all, 4, `threadWrites.slots ${odd.slots} is ignored`);
  }
});

test("transfers waiting for one of concurrency's slots do not start once a transfer has failed", { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const ws = path.join(dir, "ws");
  for (let i = 0; i < 24; i++) await writeAll(ws, { [`big/b${String(i).padStart(2, "0")}.bin`]: "x".repeat(256 * 1024 + 1 + i) });
  const inner = createLocalProvider({ root: path.join(dir, "cloud") });
  t.after(() => inner.close?.());
  let started = 0;
  const provider: StorageProvider = Object.create(inner, {
    write: {
      value: async (...args: Parameters<StorageProvider["write"]>) => {
        if (++started === 1) {
          args[1].destroy();
          throw new WorkspaceSyncError("NETWORK", "the first large write fails");
        }
        return inner.write(...args);
      },
    },
  });
  const settings = syncSettings({ mode: "mirror", remotePath: "share", concurrency: 2 });
  const result = await runSyncWithProvider({ settings, provider, workspaceDir: ws, stateDir: path.join(dir, "state") });
  assert.equal(result.ok, false);
  // Two slots: the write that failed and the one beside it. The seven other workers each waited
  // with a file, and gave it up once the run had failed.
  assert.equal(started, 2, `${started} large writes started`);
});

test("two halves: every item once, the first worker on the first half, the others on the second, each then taking the other's from its end", () => {
  for (const n of [0, 1, 2, 3, 7, 10, 101]) {
    for (const workers of [1, 2, 3, 4, 8]) {
      const take = twoHalves(n);
      const seen: number[] = [];
      const byWorker = new Map<number, number[]>();
      for (let turn = 0; ; turn++) {
        const w = turn % workers;
        const i = take(w);
        if (i < 0) {
          // Nothing left for anyone.
          for (let k = 0; k < workers; k++) assert.equal(take(k), -1);
          break;
        }
        seen.push(i);
        byWorker.set(w, [...(byWorker.get(w) ?? []), i]);
      }
      assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), `n=${n}, workers=${workers}`);
      if (n === 101 && workers >= 2) {
        const mid = Math.ceil(n / 2);
        assert.deepEqual(byWorker.get(0)!.slice(0, 3), [0, 1, 2], "the first worker starts at the front");
        assert.ok(byWorker.get(1)![0]! >= mid, "the second half starts in the middle");
      }
    }
  }
  // One worker: its half front to back, then the other half from its end.
  const take = twoHalves(6);
  assert.deepEqual(Array.from({ length: 7 }, () => take(0)), [0, 1, 2, 5, 4, 3, -1]);
  assert.deepEqual([0, 1, 2, 3].map(halfOf), [0, 1, 1, 1]);
});
