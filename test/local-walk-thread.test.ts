/**
 * A large local walk moves to a thread of its own (`providers/local/walk-thread.ts`) after
 * WALK_INLINE_NAMES names: the same entries in the same order as a walk on the calling thread,
 * its own temp files hidden there too, the thread waiting while its reader is behind, an error
 * on the thread thrown as the same typed error, and the thread gone after an abort, an early end
 * or the end.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { WorkspaceSyncError } from "../src/errors.js";
import { createLocalProvider, localRevision } from "../src/providers/local/index.js";
import { startListing } from "../src/sync/listing.js";
import { silentLogger } from "../src/logger.js";
import { WALK_INLINE_NAMES, walkFolder, type WalkOptions } from "../src/providers/local/walk.js";
import type { RemoteEntry } from "../src/providers/types.js";
import { installToken, providerTempName } from "../src/util/temp-names.js";
import { ONE_CORE, countThreads } from "./support/threads.js";
import { tempDir as makeTempDir } from "./support/tree.js";

async function tempDir(t: TestContext): Promise<string> {
  const { dir, cleanup } = await makeTempDir("ws-walk-thread-");
  t.after(cleanup);
  return dir;
}

/** `n` empty files named f00000… in `dir`. */
async function files(dir: string, n: number, prefix = "f"): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  for (let i = 0; i < n; i += 256) {
    await Promise.all(Array.from({ length: Math.min(256, n - i) }, (_, j) => fsp.writeFile(path.join(dir, `${prefix}${String(i + j).padStart(5, "0")}`), String(i + j))));
  }
}

/** What a listing says of each file, in order: path, size, time and revision. */
async function listing(it: AsyncIterable<RemoteEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(`${e.path} ${e.size} ${String(e.mtimeNs)} ${e.mtime?.toISOString()} ${e.revision}`);
  return out;
}

const token = "00112233445566ff";
const entryOf = (rel: string, size: number, mtimeNs: bigint, ino: bigint): RemoteEntry => ({ path: rel, size, mtimeNs, mtime: new Date(Number(mtimeNs / 1_000_000n)), revision: String(ino) });
const walk = (root: string, extra: Partial<WalkOptions> = {}): AsyncIterableIterator<RemoteEntry> => walkFolder(root, { recursive: true, token, entryOf, ...extra });

test("a walk on its thread lists exactly what a walk on the calling thread lists, in the same order", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  // Nested folders, empty ones, files beside folders, this install's temp files (hidden) and
  // another install's (listed), names that sort differently by code unit and by locale.
  for (const f of ["b.txt", "a/z.txt", "a/b/c.txt", "a/a.txt", "a/b/a.txt", "c/x.txt", "a.txt", "a/c/d/e.txt", "A/é.txt", "A/e.txt", "Z/_.txt"]) {
    await fsp.mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await fsp.writeFile(path.join(root, f), f);
  }
  await fsp.mkdir(path.join(root, "empty/deeper"), { recursive: true });
  await files(path.join(root, "m/many"), 1300);
  await fsp.writeFile(path.join(root, "a/b", providerTempName(token, "c.txt")), "in flight");
  const other = providerTempName("0123456789abcdef", "q.txt");
  await fsp.writeFile(path.join(root, "m", other), "another install's");
  await fsp.symlink("a", path.join(root, "link-to-a"));
  await fsp.symlink("../a", path.join(root, "m", "link-to-a"));
  await fsp.symlink("nowhere", path.join(root, "m", "dangling"));

  const { value: inline, threads: none } = await countThreads(() => listing(walk(root, { inlineNames: Infinity })));
  assert.equal(none, 0);
  assert.equal(inline.length, 11 + 1300 + 1);
  assert.ok(inline.some((l) => l.startsWith(`m/${other} `)), "another install's temp file is listed");
  assert.ok(!inline.some((l) => l.includes(token)), "this install's temp file is hidden");
  assert.ok(!inline.some((l) => l.includes("link-to-a") || l.includes("dangling")), "links are not listed");
  // Names looked at once each folder is read: root 9, A 11, Z 12, a 16, a/b 19, a/c 20, a/c/d 21,
  // c 22, empty 23, empty/deeper 23, m 27, m/many 1327. The walk moves to its thread after the
  // folder that uses up `inlineNames` (up to 22, m's links and its temp file are looked at there).
  for (const at of [0, 10, 11, 15, 19, 22, 26]) {
    const { value: threaded, threads } = await countThreads(() => listing(walk(root, { inlineNames: at, threadAhead: 1 })));
    assert.equal(threads, 1, `inlineNames ${at}: one thread`);
    assert.deepEqual(threaded, inline, `inlineNames ${at}: the same listing`);
  }
  // Used up only in the last folder: nothing is left for a thread.
  const late = await countThreads(() => listing(walk(root, { inlineNames: 28 })));
  assert.equal(late.threads, 0);
  assert.deepEqual(late.value, inline);
  // Not recursive: the root's files only, no thread (nothing is left after the root).
  const { value: top, threads: topThreads } = await countThreads(() => listing(walk(root, { inlineNames: 0, recursive: false })));
  assert.deepEqual(
    top.map((l) => l.split(" ")[0]),
    ["a.txt", "b.txt"],
  );
  assert.equal(topThreads, 0);
});

test("asked for them, names that are neither files nor folders list in place, the same on the thread as on the calling thread; not asked, they are not listed", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  await files(path.join(root, "a"), 3);
  await files(path.join(root, "b"), 3);
  await fsp.symlink("../a", path.join(root, "b", "f00001x-link"));
  await fsp.symlink("nowhere", path.join(root, "a", "dangling"));
  execFileSync("mkfifo", [path.join(root, "b", "pipe")]);
  const otherOf = (rel: string, kind: "symlink" | "special"): RemoteEntry => ({ path: rel, size: 0, notAFile: kind });
  const named = async (it: AsyncIterable<RemoteEntry>): Promise<string[]> => {
    const out: string[] = [];
    for await (const e of it) out.push(e.notAFile ? `${e.path} ${e.notAFile}` : e.path);
    return out;
  };
  const inline = await named(walk(root, { inlineNames: Infinity, otherOf }));
  assert.deepEqual(inline, ["a/dangling symlink", "a/f00000", "a/f00001", "a/f00002", "b/f00000", "b/f00001", "b/f00001x-link symlink", "b/f00002", "b/pipe special"]);
  // Handed to the thread after the root's names: a/ and b/ are walked there.
  const { value: threaded, threads } = await countThreads(() => named(walk(root, { inlineNames: 0, threadAhead: 1, otherOf })));
  assert.equal(threads, 1);
  assert.deepEqual(threaded, inline);
  assert.deepEqual(await named(walk(root, { inlineNames: 0, threadAhead: 1 })), inline.filter((l) => !l.includes(" ")));
  // The provider lists them only when asked (a snapshot listing never sees one).
  const provider = createLocalProvider({ root }, { logger: silentLogger });
  t.after(() => provider.close?.());
  assert.deepEqual(await named(provider.list("", { notFiles: true })), inline);
  assert.deepEqual(await named(provider.list("")), inline.filter((l) => !l.includes(" ")));
});

test("a file dated past 2262 (outside 64-bit nanoseconds) lists with the same time on the thread as on the calling thread", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  await files(path.join(root, "a"), 3);
  await files(path.join(root, "b"), 3);
  // 2300-01-01: ext4 keeps times to 2446, past the 2^63 ns a BigInt64Array holds.
  const far = new Date("2300-01-01T00:00:00.123Z");
  for (const f of ["a/f00001", "b/f00002"]) await fsp.utimes(path.join(root, f), far, far);
  const ns = (await fsp.lstat(path.join(root, "b/f00002"), { bigint: true })).mtimeNs;
  if (ns <= 2n ** 63n - 1n) return t.skip(`this file system keeps no time past 2262 (${String(ns)})`);
  const inline = await listing(walk(root, { inlineNames: Infinity }));
  assert.equal(inline.find((l) => l.startsWith("b/f00002 "))?.split(" ")[2], String(ns), "the calling thread lists the time as it is");
  // Handed to the thread after the root's names: a/ and b/ are walked there.
  const { value: threaded, threads } = await countThreads(() => listing(walk(root, { inlineNames: 0, threadAhead: 1 })));
  assert.equal(threads, 1);
  assert.deepEqual(threaded, inline);
});

test("the provider's listing moves to a thread only past WALK_INLINE_NAMES names", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const root = await tempDir(t);
  const stateDir = await tempDir(t);
  const provider = createLocalProvider({ root }, { logger: silentLogger, stateDir });
  await files(path.join(root, "d1"), 1000);
  const small = await countThreads(() => listing(provider.list("")));
  assert.equal(small.threads, 0, "a small folder never starts a thread");
  const last = Math.ceil(WALK_INLINE_NAMES / 1000) + 1;
  for (let i = 2; i <= last; i++) await files(path.join(root, `d${i}`), 1000);
  await fsp.writeFile(path.join(root, `d${last}`, providerTempName(installToken(stateDir), "f00001")), "in flight");
  const large = await countThreads(() => listing(provider.list("")));
  assert.equal(large.threads, 1);
  const expected = [];
  for (let i = 1; i <= last; i++) for (let j = 0; j < 1000; j++) expected.push(`d${i}/f${String(j).padStart(5, "0")}`);
  assert.deepEqual(
    large.value.map((l) => l.split(" ")[0]),
    expected,
    "every file once, in order, the temp file hidden",
  );
  // The provider's entry of a file listed on the thread is the one its stat gives.
  const stat = await provider.stat(`d${last}/f00999`);
  assert.equal(large.value.at(-1), `d${last}/f00999 ${stat?.size} ${String(stat?.mtimeNs)} ${stat?.mtime?.toISOString()} ${stat?.revision}`);
});

test("the thread waits while its reader is behind, and an error on it is the walk's typed error", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  // With one batch ahead, the thread has posted two of a/'s batches and waits before it reads b/.
  await files(path.join(root, "a"), 1100);
  await files(path.join(root, "b"), 10);
  const { value: it, exits } = await countThreads(async () => {
    const it = walk(root, { inlineNames: 0, threadAhead: 1 });
    assert.equal((await it.next()).value?.path, "a/f00000");
    return it;
  });
  assert.equal(exits.length, 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  // Had the thread not waited, it would have read b/ by now.
  await fsp.rm(path.join(root, "b"), { recursive: true });
  let seen = 1;
  await assert.rejects(
    async () => {
      for (let r = await it.next(); !r.done; r = await it.next()) seen++;
    },
    (err: unknown) => err instanceof WorkspaceSyncError && err.code === "NOT_FOUND" && err.path === path.join(root, "b"),
  );
  assert.equal(seen, 1100, "every file of a/ first, as on the calling thread");
  assert.equal((await it.next()).done, true, "nothing after the error");
  await Promise.all(exits);
});

test("an abort, an early end and the end each stop the thread", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  await files(path.join(root, "a"), 1100);
  await files(path.join(root, "b"), 1100);

  const ac = new AbortController();
  let seen = 0;
  const aborted = await countThreads(() =>
    assert.rejects(
      async () => {
        for await (const _ of walk(root, { inlineNames: 0, threadAhead: 1, signal: ac.signal })) if (++seen === 600) ac.abort();
      },
      (err: Error) => err.name === "AbortError" || (err instanceof WorkspaceSyncError && err.code === "ABORTED"),
    ),
  );
  assert.equal(seen, 600, "nothing is read after the abort");

  const returned = await countThreads(async () => {
    const it = walk(root, { inlineNames: 0, threadAhead: 1 });
    assert.equal((await it.next()).value?.path, "a/f00000");
    await it.return?.();
    assert.equal((await it.next()).done, true, "nothing after return()");
  });

  const whole = await countThreads(() => listing(walk(root, { inlineNames: 0 })));
  assert.equal(whole.value.length, 2200);
  const exits = [...aborted.exits, ...returned.exits, ...whole.exits];
  assert.equal(exits.length, 3, "one thread each");
  // Each ends (or the test times out).
  await Promise.all(exits);
});

test("a walk on its thread reports whether it passed over this install's temp files, only once it is whole", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  await files(path.join(root, "a"), 600);
  await files(path.join(root, "b"), 10);
  const complete = async (extra: Partial<WalkOptions>, stopAfter = Infinity): Promise<boolean[]> => {
    const calls: boolean[] = [];
    let n = 0;
    for await (const _ of walk(root, { inlineNames: 0, threadAhead: 1, onComplete: (saw) => calls.push(saw), ...extra })) if (++n >= stopAfter) break;
    return calls;
  };
  assert.deepEqual(await complete({}), [false]);
  assert.deepEqual(await complete({}, 300), [], "not whole: not reported");
  // In b/, a folder the thread reads.
  await fsp.writeFile(path.join(root, "b", providerTempName(token, "f00001")), "in flight");
  assert.deepEqual(await complete({}), [true]);
  assert.deepEqual(await complete({ inlineNames: Infinity }), [true], "the same on the calling thread");
});

test("a listing dropped half-read never keeps its process alive, and its thread ends once the listing is collected", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  await files(path.join(root, "a"), 1100);
  await files(path.join(root, "b"), 10);
  const walkJs = pathToFileURL(fileURLToPath(new URL("../src/providers/local/walk.js", import.meta.url))).href;
  /** Runs `body` after one entry of a walk on its thread was read (no return(), no abort); what it printed and how it ended. */
  const child = async (flags: string[], body: string): Promise<{ out: string; code: number | null; signal: NodeJS.Signals | null }> => {
    const script = `
      import { walkFolder } from ${JSON.stringify(walkJs)};
      let exited = false;
      process.on("worker", (w) => w.once("exit", () => (exited = true)));
      let it = walkFolder(${JSON.stringify(root)}, { recursive: true, token: "00112233445566ff", inlineNames: 0, threadAhead: 1, entryOf: (p) => ({ path: p, size: 0 }) });
      process.stdout.write((await it.next()).value.path);
      ${body}
    `;
    // Options a worker refuses (--input-type): the thread must start without the process's.
    const p = spawn(process.execPath, [...flags, "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
    const [code, signal] = (await once(p, "exit")) as [number | null, NodeJS.Signals | null];
    clearTimeout(timer);
    return { out, code, signal };
  };
  // Still referenced, never finished: the thread waits (one batch ahead) and the process ends anyway.
  assert.deepEqual(await child([], "globalThis.kept = it;"), { out: "a/f00000", code: 0, signal: null });
  // Dropped and collected: the thread is stopped.
  const collected = await child(
    ["--expose-gc"],
    `it = undefined;
      for (let i = 0; i < 200 && !exited; i++) {
        globalThis.gc();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      process.stdout.write(exited ? " stopped" : " still running");`,
  );
  assert.deepEqual(collected, { out: "a/f00000 stopped", code: 0, signal: null });
});

test("return() while a next() waits on the thread ends both quietly", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  await files(path.join(root, "a"), 1100);
  const it = walk(root, { inlineNames: 0, threadAhead: 1 });
  // The first batch; the rest of it is read without giving the event loop a turn, so the
  // thread's next batch cannot have arrived: the next call waits on the thread.
  for (let i = 0; i < 512; i++) assert.equal((await it.next()).done, false);
  const waiting = it.next();
  await Promise.resolve();
  assert.deepEqual(await it.return?.(), { value: undefined, done: true });
  assert.deepEqual(await waiting, { value: undefined, done: true });
  assert.equal((await it.next()).done, true);
});

test("a thread that fails to start leaves the walk to the calling thread, from the same folders", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  await files(path.join(root, "a"), 700);
  await files(path.join(root, "b/c"), 20);
  const broken = path.join(await tempDir(t), "broken-walk-worker.mjs");
  await fsp.writeFile(broken, 'throw new Error("this walk thread cannot start");\n');
  const inline = await listing(walk(root, { inlineNames: Infinity }));
  const { value, threads } = await countThreads(() => listing(walk(root, { inlineNames: 0, threadModule: pathToFileURL(broken) })));
  assert.equal(threads, 1, "it was started");
  assert.deepEqual(value, inline);
});

test("a listing started early and cancelled before it is read never starts its thread later", { timeout: 60_000, skip: ONE_CORE }, async (t) => {
  const root = await tempDir(t);
  // Folders of one file each: the first call looks at 512 names of the root, then gives the
  // event loop a turn, still short of WALK_INLINE_NAMES.
  for (let i = 0; i < WALK_INLINE_NAMES + 100; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => files(path.join(root, `d${String(i + j).padStart(5, "0")}`), 1)));
  }
  const provider = createLocalProvider({ root }, { logger: silentLogger });
  const { threads } = await countThreads(async () => {
    const started = startListing(provider, "");
    await started.cancel();
    // Long enough for a walk left running to pass WALK_INLINE_NAMES and start its thread.
    await new Promise((resolve) => setTimeout(resolve, 500));
  });
  assert.equal(threads, 0);
  // The same with the walk alone, ended by return() (no abort) while its first call waits.
  const alone = await countThreads(async () => {
    const it = walk(root, {});
    const first = it.next();
    await it.return?.();
    await new Promise((resolve) => setTimeout(resolve, 500));
    return first;
  });
  assert.equal(alone.threads, 0);
  assert.deepEqual(await alone.value, { value: undefined, done: true });
  // Read, the same listing does reach its thread.
  const read = await countThreads(async () => {
    const started = startListing(provider, "");
    const n = (await listing(started.entries)).length;
    await started.cancel();
    return n;
  });
  assert.equal(read.value, Math.ceil((WALK_INLINE_NAMES + 100) / 500) * 500);
  assert.equal(read.threads, 1);
});

test("a missing root lists as empty without a thread", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  const { value, threads } = await countThreads(() => listing(walk(path.join(root, "missing"), { inlineNames: 0 })));
  assert.deepEqual(value, []);
  assert.equal(threads, 0);
});

test("an inode number of 2^63 or more gives one revision, whether a stat gave it (signed) or the walk thread (unsigned)", () => {
  // What Node's bigint stats give for such a number, and what a BigUint64Array makes of it.
  const signed = -9221558474025322194n;
  const unsigned = new BigUint64Array([BigInt.asUintN(64, signed)])[0]!;
  assert.equal(unsigned, 9225185599684229422n);
  const ns = 1_700_000_000_123_456_789n;
  assert.equal(localRevision(5, ns, signed), localRevision(5, ns, unsigned));
  assert.equal(localRevision(5, ns, 42n), "5:1700000000123:42", "ordinary numbers as before");
});
