/**
 * The local provider never lists a folder through a symlink in its folder: the cloud folder (or
 * the mailbox's `_outbox`) replaced by a link to a folder outside would otherwise list that
 * folder's files as the cloud's (their names in the logs, its folders made in the workspace), and a
 * bisync would read the files missing from it as deleted in the cloud.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { createLocalProvider } from "../src/providers/local/index.js";
import { walkFolder } from "../src/providers/local/walk.js";
import type { RemoteEntry } from "../src/providers/types.js";
import { runSync } from "../src/sync/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { memoryLogger } from "./sync-suite.js";
import { tempDir } from "./support/tree.js";

async function room(t: { after: (fn: () => Promise<void>) => void }) {
  const { dir, cleanup } = await tempDir("ws-list-link-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const root = path.join(dir, "cloud");
  const outside = path.join(dir, "outside");
  for (const d of [ws, root, path.join(outside, "sub")]) await fsp.mkdir(d, { recursive: true });
  await fsp.writeFile(path.join(outside, "sub", "private.txt"), "not the cloud's");
  const logger = memoryLogger();
  const sync = (mode: "bisync" | "mirror" | "mailbox") =>
    runSync({ syncConfig: { sync: { mode, remotePath: "x", provider: "local", local: { root } } }, workspaceDir: ws, stateDir: path.join(dir, `state-${mode}`), logger });
  return { dir, ws, root, outside, logger, sync };
}

const tree = async (dir: string): Promise<string[]> => ((await fsp.readdir(dir, { recursive: true })) as string[]).map(String).sort();

test("a cloud folder that is a symlink to a folder outside: the sync refuses it, names the fix, and changes nothing", async (t) => {
  const r = await room(t);
  await fsp.writeFile(path.join(r.ws, "mine.txt"), "mine");
  await fsp.symlink(r.outside, path.join(r.root, "x"));
  for (const mode of ["bisync", "mirror", "mailbox"] as const) {
    const out = await r.sync(mode);
    assert.equal(out.ok, false, mode);
    assert.equal(!out.ok && out.code, "INVALID_PATH", mode);
    assert.match(!out.ok ? out.error : "", /symlink at x.*never followed: replace it with the folder it points to/, mode);
  }
  // (The mailbox makes its empty `_inbox` first.)
  assert.deepEqual(await tree(r.ws), ["_inbox", "mine.txt"], "no folder of the outside tree made in the workspace");
  assert.deepEqual(await tree(r.outside), ["sub", "sub/private.txt"]);
  assert.ok(!r.logger.lines.some((l) => l.includes("private.txt")), "no name from outside in the log");
});

test("a synced cloud folder swapped for a link to a folder with some of its names: no workspace file is deleted", async (t) => {
  const r = await room(t);
  for (let i = 0; i < 10; i++) await fsp.writeFile(path.join(r.ws, `f${i}.txt`), `file ${i}`);
  const first = await r.sync("bisync");
  assert.ok(first.ok, !first.ok ? first.error : "");
  // Seven of the ten names outside: three would read as deleted in the cloud (under maxDelete's 50%).
  await fsp.rename(path.join(r.root, "x"), path.join(r.root, "x.real"));
  for (let i = 0; i < 7; i++) await fsp.copyFile(path.join(r.root, "x.real", `f${i}.txt`), path.join(r.outside, `f${i}.txt`));
  await fsp.symlink(r.outside, path.join(r.root, "x"));
  const second = await r.sync("bisync");
  assert.equal(!second.ok && second.code, "INVALID_PATH");
  assert.equal((await tree(r.ws)).length, 10, "every workspace file kept");
});

test("the mailbox's cloud _outbox as a symlink to a folder outside: refused, nothing moved into _inbox", async (t) => {
  const r = await room(t);
  await fsp.mkdir(path.join(r.root, "x"));
  await fsp.symlink(r.outside, path.join(r.root, "x", "_outbox"));
  const out = await r.sync("mailbox");
  assert.equal(!out.ok && out.code, "INVALID_PATH", out.ok ? "it ran" : out.error);
  assert.match(!out.ok ? out.error : "", /symlink at x\/_outbox/);
  assert.ok(!(await tree(r.ws)).some((n) => n.startsWith("_inbox/sub")), "no folder of the outside tree made in _inbox");
  assert.deepEqual(await tree(r.outside), ["sub", "sub/private.txt"]);
});

test("listing: a folder under the root reached through real folders lists; a missing one lists as empty; one through a link throws", async (t) => {
  const r = await room(t);
  await fsp.mkdir(path.join(r.root, "a", "b"), { recursive: true });
  await fsp.writeFile(path.join(r.root, "a", "b", "f.txt"), "f");
  await fsp.symlink(path.join(r.root, "a"), path.join(r.root, "link"));
  const p = createLocalProvider({ root: r.root });
  const names = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const e of p.list(dir)) out.push(e.path);
    return out;
  };
  assert.deepEqual(await names("a"), ["b/f.txt"]);
  assert.deepEqual(await names("missing/deeper"), []);
  await assert.rejects(names("link"), (err: unknown) => isWorkspaceSyncError(err, "INVALID_PATH"));
  await assert.rejects(names("link/b"), (err: unknown) => isWorkspaceSyncError(err, "INVALID_PATH"));
  // The provider's own root may be a link (a user's choice in the config).
  const viaLink = createLocalProvider({ root: path.join(r.root, "link") });
  const out: string[] = [];
  for await (const e of viaLink.list("b")) out.push(e.path);
  assert.deepEqual(out, ["f.txt"]);
});

/** Takes the rest of `it` into `got` (paths), to its end or its error. */
async function drain(it: AsyncIterator<RemoteEntry>, got: string[]): Promise<void> {
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    got.push(r.value.path);
  }
}

/** A cloud folder `share` with files and two sub-folders, and a folder outside with the same sub-folder names. */
async function swapRoom(t: { after: (fn: () => Promise<void>) => void }) {
  const { dir, cleanup } = await tempDir("ws-list-swap-");
  t.after(cleanup);
  const root = path.join(dir, "root");
  const outside = path.join(dir, "outside");
  for (const sub of ["a", "b"]) {
    await fsp.mkdir(path.join(root, "share", sub), { recursive: true });
    await fsp.writeFile(path.join(root, "share", sub, "in.txt"), "x");
    await fsp.mkdir(path.join(outside, sub), { recursive: true });
    await fsp.writeFile(path.join(outside, sub, "SECRET.txt"), "s");
  }
  for (let i = 0; i < 3; i++) await fsp.writeFile(path.join(root, "share", `top${i}.txt`), "t");
  return { root, outside };
}

test("listing: the folder swapped for a link after the listing started: refused, nothing listed through the link", async (t) => {
  const { root, outside } = await swapRoom(t);
  const it = createLocalProvider({ root }).list("share")[Symbol.asyncIterator]();
  const got = [(await it.next()).value!.path];
  await fsp.rename(path.join(root, "share"), path.join(root, "share.old"));
  await fsp.symlink(outside, path.join(root, "share"));
  await assert.rejects(
    drain(it, got),
    (err: unknown) => isWorkspaceSyncError(err, "INVALID_PATH") && /was replaced while it was listed/.test((err as Error).message),
  );
  assert.ok(!got.some((p) => p.includes("SECRET")), got.join(", "));
});

test("listing on the walk's thread: a sub-folder swapped for a link before the thread reads it is refused there", async (t) => {
  const { root, outside } = await swapRoom(t);
  const share = path.join(root, "share");
  const entryOf = (rel: string, size: number): RemoteEntry => ({ path: rel, size });
  // One name on this thread: the root is read here, its sub-folders on the thread, which starts
  // on the second `next()` (after the swap).
  const it = walkFolder(share, { recursive: true, token: "00112233445566ff", inlineNames: 1, entryOf });
  const got = [(await it.next()).value!.path];
  await fsp.rename(path.join(share, "b"), path.join(share, "b.old"));
  await fsp.symlink(path.join(outside, "b"), path.join(share, "b"));
  await assert.rejects(
    drain(it, got),
    (err: unknown) => isWorkspaceSyncError(err, "INVALID_PATH") && /^b was replaced while it was listed/.test((err as Error).message),
  );
  assert.ok(!got.some((p) => p.includes("SECRET")), got.join(", "));
});
