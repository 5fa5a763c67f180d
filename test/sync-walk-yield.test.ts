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
import { WALK_INLINE_NAMES, walkFolder } from "../src/providers/local/walk.js";
import type { RemoteEntry } from "../src/providers/types.js";
import { createFilter } from "../src/sync/filters.js";
import { listLocal, WALK_FOLDER_READS, WALK_YIELD_EVERY } from "../src/sync/listing.js";
import { tempDir } from "./support/tree.js";
import { EVENT_LOOP_TURN_MS, forEachLimit } from "../src/util/concurrency.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { syncSettings } from "./sync-suite.js";

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

test("across many small folders the workspace walk looks at WALK_FOLDER_READS folders' entries at most between two turns of the event loop", async (t) => {
  const { dir, cleanup } = await tempDir("ws-walk-yield-folders-");
  t.after(cleanup);
  // 300 folders of 20 files: each folder's entries are looked at in one callback, and the reads
  // that complete together run in one poll phase, with no turn in between.
  const folders = 300;
  const perFolder = 20;
  for (let d = 0; d < folders; d++) {
    await fsp.mkdir(path.join(dir, `d${d}`));
    await Promise.all(Array.from({ length: perFolder }, (_, i) => fsp.writeFile(path.join(dir, `d${d}`, `f${i}`), "x")));
  }
  const base = createFilter([], false);
  const turns = stretches();
  const filter = { ...base, matches: (p: string) => (turns.seen(), base.matches(p)) };
  const listing = await listLocal(dir, { filter, copySymlinks: false, keyOf: (p) => p });
  const most = turns.stop();
  assert.equal(listing.files.size, folders * perFolder);
  // The root's entries (its 300 folders) are looked at alone, before any folder is read; then at
  // most WALK_FOLDER_READS folders of 20 at a time (8: 160 entries; 64 folders at once were 1 280).
  assert.ok(most <= folders, `the workspace walk went through ${most} entries without a turn of the event loop (${WALK_FOLDER_READS} folders read at once)`);
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
