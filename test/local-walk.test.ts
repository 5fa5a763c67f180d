/**
 * The local provider's listing (`providers/local/walk.ts`): depth-first, names sorted, each folder's
 * files before its sub-folders; this install's temp files hidden; an early `break` and an abort
 * end it cleanly; a missing root lists as empty.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createLocalProvider } from "../src/providers/local/index.js";
import { silentLogger } from "../src/logger.js";
import { WALK_YIELD_EVERY } from "../src/providers/local/walk.js";
import { installToken, providerTempName } from "../src/util/temp-names.js";
import { tempDir as makeTempDir } from "./support/tree.js";
import type { TestContext } from "node:test";

async function tempDir(t: TestContext): Promise<string> {
  const { dir, cleanup } = await makeTempDir("ws-local-walk-");
  t.after(cleanup);
  return dir;
}

async function put(root: string, rel: string): Promise<void> {
  await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await fsp.writeFile(path.join(root, rel), rel);
}

async function paths(it: AsyncIterable<{ path: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(e.path);
  return out;
}

test("lists depth-first in sorted order, a folder's files before its sub-folders, own temps hidden", async (t) => {
  const root = await tempDir(t);
  const stateDir = await tempDir(t);
  const files = ["b.txt", "a/z.txt", "a/b/c.txt", "a/a.txt", "a/b/a.txt", "c/x.txt", "a.txt", "a/c/d/e.txt"];
  for (const f of files) await put(root, f);
  await fsp.mkdir(path.join(root, "empty"));
  // This install's temp file is hidden; another install's is listed (the sync layer reports it).
  await put(root, `a/${providerTempName(installToken(stateDir), "z.txt")}`);
  const other = providerTempName("0123456789abcdef", "q.txt");
  await put(root, `c/${other}`);
  const provider = createLocalProvider({ root }, { logger: silentLogger, stateDir });
  const listed = await paths(provider.list(""));
  const expected = ["a.txt", "b.txt", "a/a.txt", "a/z.txt", "a/b/a.txt", "a/b/c.txt", "a/c/d/e.txt", `c/${other}`, "c/x.txt"];
  assert.deepEqual(listed, expected);
  assert.deepEqual(await paths(provider.list("a")), ["a.txt", "z.txt", "b/a.txt", "b/c.txt", "c/d/e.txt"]);
  assert.deepEqual(await paths(provider.list("a", { recursive: false })), ["a.txt", "z.txt"]);
  assert.deepEqual(await paths(provider.list("missing")), []);
});

test("a folder larger than one batch lists whole; break and abort end the walk", async (t) => {
  const root = await tempDir(t);
  const n = WALK_YIELD_EVERY * 2 + 7;
  await fsp.mkdir(path.join(root, "big"), { recursive: true });
  await Promise.all(Array.from({ length: n }, (_, i) => fsp.writeFile(path.join(root, "big", `f${String(i).padStart(5, "0")}`), "")));
  await put(root, "z/last.txt");
  const provider = createLocalProvider({ root });
  const all = await paths(provider.list(""));
  assert.equal(all.length, n + 1);
  assert.equal(all[n], "z/last.txt");
  assert.deepEqual(all.slice(0, n), [...all.slice(0, n)].sort());

  const it = provider.list("")[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.path, "big/f00000");
  await it.return?.();
  assert.equal((await it.next()).done, true, "nothing after return()");

  const ac = new AbortController();
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of provider.list("", { signal: ac.signal })) {
        if (++seen === 10) ac.abort();
      }
    })(),
    (err: Error) => err.name === "AbortError" || /abort/i.test(err.message),
  );
  assert.equal(seen, 10, "nothing is read after the abort");
});

test("a whole listing that passed over no temp file of this install spares the cleanup its pass, once", async (t) => {
  const root = await tempDir(t);
  const stateDir = await tempDir(t);
  for (const f of ["a/x.txt", "b/y.txt", "z.txt"]) await put(root, f);
  const provider = createLocalProvider({ root }, { logger: silentLogger, stateDir });
  const token = installToken(stateDir);
  /** A stale temp file of this install's in a/ (as a killed upload leaves). */
  const leave = async (): Promise<void> => {
    const tmp = path.join(root, "a", providerTempName(token, "x.txt"));
    await fsp.writeFile(tmp, "partial");
    const old = new Date(Date.now() - 3 * 86400_000);
    await fsp.utimes(tmp, old, old);
  };
  const staleOnes = async (): Promise<number> => (await fsp.readdir(path.join(root, "a"))).filter((n) => n.startsWith(".ws-tmp-")).length;

  // Listed whole, none found: the cleanup right after does not look (a file left since is not seen).
  assert.equal((await paths(provider.list(""))).length, 3);
  await leave();
  assert.equal(await provider.cleanupIncomplete("", 1000), 0);
  assert.equal(await staleOnes(), 1);
  // Once: the next cleanup looks.
  assert.equal(await provider.cleanupIncomplete("", 1000), 1);
  assert.equal(await staleOnes(), 0);

  // A listing that passed over one, a listing stopped early, one not recursive, one of another
  // folder: none spares the cleanup.
  const listings: (() => Promise<unknown>)[] = [
    () => paths(provider.list("")),
    async () => {
      for await (const _ of provider.list("")) break;
    },
    () => paths(provider.list("", { recursive: false })),
    () => paths(provider.list("b")),
  ];
  for (const [i, list] of listings.entries()) {
    if (i === 0) await leave();
    await list();
    if (i > 0) await leave();
    assert.equal(await provider.cleanupIncomplete("", 1000), 1, `listing ${i}`);
    assert.equal(await staleOnes(), 0);
  }
});
