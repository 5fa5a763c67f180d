/**
 * The event loop stays responsive during a large walk: both walks read file metadata with
 * synchronous calls, and must give the loop a turn at least once per WALK_YIELD_EVERY entries of
 * one folder (counted, not timed: the entries seen between two ticks of a setImmediate chain).
 * So must the copies of a first sync, whose small files are copied with synchronous calls.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createLocalProvider, WALK_YIELD_EVERY as PROVIDER_YIELD_EVERY } from "../src/providers/local/index.js";
import { THREAD_BATCHES_PER_TURN, WALK_INLINE_NAMES, walkFolder } from "../src/providers/local/walk.js";
import { WALK_BATCH } from "../src/providers/local/walk-look.js";
import type { RemoteEntry } from "../src/providers/types.js";
import { createFilter } from "../src/sync/filters.js";
import { listLocal, WALK_FOLDER_READS, WALK_YIELD_EVERY } from "../src/sync/listing.js";
import { tempDir } from "./support/tree.js";
import { EVENT_LOOP_TURN_MS, forEachLimit } from "../src/util/concurrency.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { instrument, memoryLogger, syncSettings } from "./sync-suite.js";
import { countThreads } from "./support/threads.js";

/**
 * Counts entries seen between two turns of the event loop's check phase: `seen()` per entry, and
 * `stop()` returns the most seen in one stretch without a turn.
 */
function stretches(): { seen: () => void; stop: () => number } {
  let current = 0;
  let most = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    current = 0;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    seen() {
      current++;
      if (current > most) most = current;
    },
    stop() {
      running = false;
      return most;
    },
  };
}

async function oneBigFolder(dir: string, files: number): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  for (let i = 0; i < files; i += 256) {
    await Promise.all(Array.from({ length: Math.min(256, files - i) }, (_, j) => fsp.writeFile(path.join(dir, `f${i + j}.txt`), "x")));
  }
}

test("a walk of one large folder gives the event loop a turn every WALK_YIELD_EVERY entries", async (t) => {
  const { dir, cleanup } = await tempDir("ws-walk-yield-");
  t.after(cleanup);
  const chunks = 8;
  const ws = path.join(dir, "ws");
  await oneBigFolder(path.join(ws, "big"), chunks * WALK_YIELD_EVERY);

  const base = createFilter([], false);
  const local = stretches();
  // The walk asks the filter about every entry: that is where the entries are counted.
  const filter = { ...base, matches: (p: string) => (local.seen(), base.matches(p)) };
  const listing = await listLocal(ws, { filter, copySymlinks: false, keyOf: (p) => p });
  const localMost = local.stop();
  assert.equal(listing.files.size, chunks * WALK_YIELD_EVERY);
  assert.ok(localMost <= WALK_YIELD_EVERY + 1, `the workspace walk went through ${localMost} entries without a turn of the event loop`);

  const provider = createLocalProvider({ root: ws });
  const remote = stretches();
  let n = 0;
  for await (const _ of provider.list("", { recursive: true })) {
    remote.seen();
    n++;
  }
  const remoteMost = remote.stop();
  assert.equal(n, chunks * PROVIDER_YIELD_EVERY);
  assert.ok(remoteMost <= PROVIDER_YIELD_EVERY, `the provider walk yielded ${remoteMost} entries without a turn of the event loop`);
});

test("across many small folders the provider walk gives the event loop a turn every WALK_YIELD_EVERY names once it cannot move to its thread, and within WALK_INLINE_NAMES before", async (t) => {
  const { dir, cleanup } = await tempDir("ws-walk-yield-small-");
  t.after(cleanup);
  // 300 folders of 20 files: no folder alone is large enough to turn inside it.
  for (let d = 0; d < 300; d++) {
    await fsp.mkdir(path.join(dir, `d${d}`));
    await Promise.all(Array.from({ length: 20 }, (_, i) => fsp.writeFile(path.join(dir, `d${d}`, `f${i}`), "x")));
  }
  const most = async (it: AsyncIterable<unknown>): Promise<number> => {
    const turns = stretches();
    let n = 0;
    for await (const _ of it) {
      turns.seen();
      n++;
    }
    assert.equal(n, 6000);
    return turns.stop();
  };
  // Where no thread can take over (its module missing: the walk stays here).
  const entryOf = (p: string, size: number): RemoteEntry => ({ path: p, size });
  const alone = await most(walkFolder(dir, { recursive: true, token: "00112233445566ff", entryOf, inlineNames: Infinity }));
  assert.ok(alone <= PROVIDER_YIELD_EVERY, `the walk yielded ${alone} entries without a turn of the event loop`);
  // The provider's walk: at most WALK_INLINE_NAMES (and the folder that ends them) before its thread.
  const provider = createLocalProvider({ root: dir });
  const withThread = await most(provider.list("", { recursive: true }));
  assert.ok(withThread <= WALK_INLINE_NAMES + 20, `the provider walk yielded ${withThread} entries without a turn of the event loop`);
});

test("batches the walk's thread queued while its reader was busy are taken with a turn of the event loop every THREAD_BATCHES_PER_TURN batches", { timeout: 60_000 }, async (t) => {
  const { dir, cleanup } = await tempDir("ws-walk-yield-thread-");
  t.after(cleanup);
  for (let d = 0; d < 300; d++) {
    await fsp.mkdir(path.join(dir, `d${d}`));
    await Promise.all(Array.from({ length: 20 }, (_, i) => fsp.writeFile(path.join(dir, `d${d}`, `f${i}`), "x")));
  }
  const entryOf = (p: string, size: number): RemoteEntry => ({ path: p, size });
  // On its thread from the first folder, every batch posted ahead (12 of 512 files).
  const { value: it, threads } = await countThreads(async () => {
    const it = walkFolder(dir, { recursive: true, token: "00112233445566ff", entryOf, inlineNames: 0, threadAhead: 64 });
    assert.equal((await it.next()).done, false);
    return it;
  });
  assert.equal(threads, 1, "the walk went on on its thread");
  // The reader busy elsewhere: the thread's batches wait in the queue.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const turns = stretches();
  let n = 1;
  for (let r = await it.next(); !r.done; r = await it.next()) {
    turns.seen();
    n++;
  }
  const most = turns.stop();
  assert.equal(n, 6000);
  assert.ok(most <= WALK_BATCH * (THREAD_BATCHES_PER_TURN + 1), `${most} entries taken without a turn of the event loop`);
});

test("across many small folders the workspace walk looks at WALK_FOLDER_READS folders' entries at most between two turns of the event loop", async (t) => {
  const { dir, cleanup } = await tempDir("ws-walk-yield-folders-");
  t.after(cleanup);
  // 15 parents of 20 folders of 20 files: each folder's entries are looked at in one callback, and
  // the reads that complete together run in one poll phase, with no turn in between. No parent
  // holds more entries than WALK_FOLDER_READS folders do, so the folders' reads set the bound.
  const parents = 15;
  const folders = 20;
  const perFolder = 20;
  for (let p = 0; p < parents; p++) {
    for (let d = 0; d < folders; d++) {
      const sub = path.join(dir, `p${p}`, `d${d}`);
      await fsp.mkdir(sub, { recursive: true });
      await Promise.all(Array.from({ length: perFolder }, (_, i) => fsp.writeFile(path.join(sub, `f${i}`), "x")));
    }
  }
  const base = createFilter([], false);
  const turns = stretches();
  const filter = { ...base, matches: (p: string) => (turns.seen(), base.matches(p)) };
  const listing = await listLocal(dir, { filter, copySymlinks: false, keyOf: (p) => p });
  const most = turns.stop();
  assert.equal(listing.files.size, parents * folders * perFolder);
  // 8 folders of 20: 160 (64 folders at once were 1 280).
  assert.ok(most <= WALK_FOLDER_READS * perFolder, `the workspace walk went through ${most} entries without a turn of the event loop (${WALK_FOLDER_READS} folders read at once)`);
  // And the bound itself: a poll phase's reads, one look (up to WALK_YIELD_EVERY entries) each,
  // and as many continuations in the check phase before the timers: ~7 µs an entry, under ~60 ms.
  assert.ok(2 * WALK_FOLDER_READS * WALK_YIELD_EVERY <= 8192, `${WALK_FOLDER_READS} folder reads at once allow ${2 * WALK_FOLDER_READS * WALK_YIELD_EVERY} entries between two runs of the timers`);
});

test("a worker pool whose calls never wait still lets timers run (every EVENT_LOOP_TURN_MS)", async () => {
  let timerRanAt = -1;
  let done = 0;
  setTimeout(() => (timerRanAt = done), 0);
  // Each call is synchronous work that resolves at once: 40 x 2 ms, well past one turn's budget.
  await forEachLimit(Array.from({ length: 40 }, (_, i) => i), 4, async () => {
    const until = performance.now() + 2;
    while (performance.now() < until);
    done++;
  });
  assert.ok(EVENT_LOOP_TURN_MS < 80);
  assert.ok(timerRanAt >= 0 && timerRanAt < 40, `the timer ran after ${timerRanAt} of 40 calls (-1: only after the pool)`);
});

test("a first sync of many small files gives the event loop turns while it copies them", async (t) => {
  const { dir, cleanup } = await tempDir("ws-copy-yield-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const files = 1500;
  await oneBigFolder(path.join(ws, "notes"), files);
  const provider = createLocalProvider({ root: path.join(dir, "cloud") });
  const turns = stretches();
  const write = provider.write.bind(provider);
  provider.write = (p, body, options) => (turns.seen(), write(p, body, options));
  const r = await runSyncWithProvider({ settings: syncSettings({ mode: "mirror", remotePath: "" }), provider, workspaceDir: ws, stateDir: path.join(dir, "state") });
  const most = turns.stop();
  assert.ok(r.ok, !r.ok ? r.error : "");
  assert.equal(r.uploaded.length, files);
  assert.ok(most < files / 4, `${most} of ${files} copies ran without a turn of the event loop`);
});

test("a host's timer set once the listings are done runs before the plan is acted on", async (t) => {
  // From the last I/O of the listings to the executor, a run makes passes over every key with no
  // I/O in between: unless it gives the event loop a timer turn, a host's timers wait for all of
  // them. The hook is the log line of a name the provider refuses, written after the listings.
  const { dir, cleanup } = await tempDir("ws-plan-turn-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  await fsp.mkdir(ws);
  await fsp.writeFile(path.join(ws, "thumbs.db"), "x");
  await fsp.writeFile(path.join(ws, "new.txt"), "new");
  const provider = instrument(createLocalProvider({ root: path.join(dir, "cloud") }), { capabilities: { ignoredNames: ["thumbs.db"] } });
  const ac = new AbortController();
  const logger = memoryLogger();
  const info = logger.info;
  logger.info = (m: string) => {
    if (m.includes("Skipping thumbs.db")) setTimeout(() => ac.abort(), 0);
    info(m);
  };
  const r = await runSyncWithProvider({ settings: syncSettings({ mode: "bisync", remotePath: "" }), provider, workspaceDir: ws, stateDir: path.join(dir, "state"), logger, signal: ac.signal });
  assert.ok(logger.lines.some((l) => l.includes("Skipping thumbs.db")), logger.lines.join("\n"));
  assert.equal(r.ok, false, "the run went on to act on its plan before the host's timer ran");
  assert.equal(!r.ok && r.code, "ABORTED");
  assert.equal(provider.counts.write, 0);
  await assert.rejects(fsp.stat(path.join(dir, "cloud", "new.txt")), { code: "ENOENT" });
});

