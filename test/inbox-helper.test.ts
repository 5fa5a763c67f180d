import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isWorkspaceSyncError } from "../src/errors.js";
import {
  describeInboxEntry,
  formatBytes,
  inboxListingPayload,
  isSafeBasename,
  listInbox,
  moveEntryNoClobber,
  moveFromInbox,
  peekInbox,
  suffixedName,
} from "../src/inbox/index.js";
import { copyThenRemove, describeChangedFile, describeLeftBehind } from "../src/inbox/move.js";
import { FolderCopy, unlinkIfSame } from "../src/inbox/folder-copy.js";

async function fixture(t: { after(fn: () => Promise<void>): void }, localPath = "") {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-inbox-"));
  t.after(() => fsp.rm(root, { recursive: true, force: true }));
  const workspace = path.join(root, "ws");
  const outside = path.join(root, "outside");
  const inbox = path.join(workspace, localPath, "_inbox");
  await fsp.mkdir(inbox, { recursive: true });
  await fsp.mkdir(outside, { recursive: true });
  return { root, workspace, outside, inbox, localPath };
}

const invalidPath = (e: unknown) => isWorkspaceSyncError(e, "INVALID_PATH");

test("isSafeBasename / suffixedName / formatBytes", () => {
  for (const ok of ["a.pdf", "report (1).csv", ".env", "ünïcødé.txt", "a..b"]) assert.equal(isSafeBasename(ok), true, ok);
  for (const bad of ["", ".", "..", "a/b", "../x", "a\\b", "x\0y", "/etc/passwd", 42, undefined]) assert.equal(isSafeBasename(bad), false, String(bad));
  assert.equal(suffixedName("a.pdf", 0), "a.pdf");
  assert.equal(suffixedName("a.pdf", 1), "a (1).pdf");
  assert.equal(suffixedName("README", 2), "README (2)");
  assert.equal(suffixedName(".env", 1), ".env (1)");
  assert.equal(formatBytes(512), "512B");
  assert.equal(formatBytes(1536), "1.5KB");
  assert.equal(formatBytes(5 * 1024 * 1024), "5.0MB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0GB");
});

test("listInbox: entries with type, size, time; workspace folders to depth 3 without dot dirs, node_modules, _inbox, _outbox", async (t) => {
  const f = await fixture(t);
  await fsp.writeFile(path.join(f.inbox, "b.csv"), "x".repeat(1536));
  await fsp.writeFile(path.join(f.inbox, "a.pdf"), "pdf");
  await fsp.mkdir(path.join(f.inbox, "photos"));
  await fsp.symlink("/etc/hostname", path.join(f.inbox, "link"));
  for (const d of ["docs/reports/2026/q1", ".git/objects", "node_modules/x", "_outbox", "code/app", "code/.cache"]) {
    await fsp.mkdir(path.join(f.workspace, d), { recursive: true });
  }
  await fsp.symlink(f.outside, path.join(f.workspace, "escape"));
  const listing = await listInbox({ workspaceDir: f.workspace });
  assert.equal(listing.inboxDir, await fsp.realpath(f.inbox));
  assert.deepEqual(
    listing.entries.map((e) => [e.name, e.type, e.type === "dir" ? 0 : e.size]),
    [
      ["a.pdf", "file", 3],
      ["b.csv", "file", 1536],
      ["link", "symlink", "/etc/hostname".length],
      ["photos", "dir", 0],
    ],
  );
  assert.ok(listing.entries.every((e) => !Number.isNaN(Date.parse(e.modified))));
  assert.deepEqual(listing.workspaceDirectories, ["code", "code/app", "docs", "docs/reports", "docs/reports/2026"]);
  assert.equal(listing.directoriesTruncated, false);
  assert.deepEqual(inboxListingPayload(listing).inbox, ["📄 a.pdf (3B)", "📄 b.csv (1.5KB)", "🔗 link (symlink)", "📁 photos/"]);
  assert.equal(describeInboxEntry(listing.entries[1]!), "📄 b.csv (1.5KB)");
});

test("listInbox: a missing inbox lists as empty; localPath puts the inbox in a subfolder", async (t) => {
  const f = await fixture(t, "shared");
  await fsp.writeFile(path.join(f.inbox, "n.txt"), "n");
  const listing = await listInbox({ workspaceDir: f.workspace, localPath: "shared" });
  assert.deepEqual(listing.entries.map((e) => e.name), ["n.txt"]);
  assert.deepEqual(listing.workspaceDirectories, ["shared"]);
  const none = await listInbox({ workspaceDir: f.workspace });
  assert.deepEqual(none.entries, []);
  assert.deepEqual(inboxListingPayload(none).inbox, ["(empty)"]);
  await assert.rejects(listInbox({ workspaceDir: f.workspace, localPath: "../elsewhere" }), invalidPath);
  await assert.rejects(listInbox({ workspaceDir: f.workspace, localPath: "/abs" }), invalidPath);
});

test("an inbox that is a symbolic link to outside the workspace is refused", async (t) => {
  const f = await fixture(t);
  await fsp.rm(f.inbox, { recursive: true });
  await fsp.symlink(f.outside, f.inbox);
  await assert.rejects(listInbox({ workspaceDir: f.workspace }), invalidPath);
  await assert.rejects(moveFromInbox({ workspaceDir: f.workspace, target: "docs" }), invalidPath);
});

test("peekInbox: file, folder, symlink; only plain names; missing → NOT_FOUND", async (t) => {
  const f = await fixture(t);
  await fsp.writeFile(path.join(f.inbox, "a.pdf"), "12345");
  await fsp.mkdir(path.join(f.inbox, "photos/raw"), { recursive: true });
  for (let i = 0; i < 55; i++) await fsp.writeFile(path.join(f.inbox, "photos", `p${String(i).padStart(2, "0")}.jpg`), "");
  await fsp.symlink("../../outside/secret", path.join(f.inbox, "sneaky"));
  const loc = { workspaceDir: f.workspace };
  const file = await peekInbox({ ...loc, name: "a.pdf" });
  assert.equal(file.type, "file");
  assert.equal(file.type === "file" && file.size, 5);
  const dir = await peekInbox({ ...loc, name: "photos" });
  assert.equal(dir.type, "dir");
  if (dir.type === "dir") {
    assert.equal(dir.entries.length, 50);
    assert.equal(dir.more, 6);
    assert.equal(dir.entries[0], "p00.jpg");
  }
  assert.deepEqual(await peekInbox({ ...loc, name: "sneaky" }).then((p) => [p.type, p.type === "symlink" && p.target]), ["symlink", "../../outside/secret"]);
  for (const bad of ["../x", "photos/raw", "/etc/passwd", "..", ""]) {
    await assert.rejects(peekInbox({ ...loc, name: bad }), invalidPath, bad);
  }
  await assert.rejects(peekInbox({ ...loc, name: "nope.txt" }), (e: unknown) => isWorkspaceSyncError(e, "NOT_FOUND"));
});

test("moveFromInbox: moves into a new folder inside the workspace and reports what is left", async (t) => {
  const f = await fixture(t);
  await fsp.writeFile(path.join(f.inbox, "a.pdf"), "A");
  await fsp.writeFile(path.join(f.inbox, "b.csv"), "B");
  await fsp.writeFile(path.join(f.inbox, "c.txt"), "C");
  const r = await moveFromInbox({ workspaceDir: f.workspace, target: "projects/x", files: ["a.pdf", "b.csv"] });
  assert.deepEqual(r, { moved: ["a.pdf → projects/x/a.pdf", "b.csv → projects/x/b.csv"], errors: [], remaining: ["c.txt"] });
  assert.equal(await fsp.readFile(path.join(f.workspace, "projects/x/a.pdf"), "utf8"), "A");
  await assert.rejects(fsp.stat(path.join(f.inbox, "a.pdf")));
  // "." is the workspace root; without `files` every entry moves.
  const all = await moveFromInbox({ workspaceDir: f.workspace, target: "." });
  assert.deepEqual(all, { moved: ["c.txt → c.txt"], errors: [], remaining: [] });
});

test("moveFromInbox never overwrites: a taken name gets ' (1)', ' (2)'", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.workspace, "docs"));
  await fsp.writeFile(path.join(f.workspace, "docs", "a.pdf"), "OLD");
  await fsp.writeFile(path.join(f.workspace, "docs", "a (1).pdf"), "OLDER");
  await fsp.writeFile(path.join(f.inbox, "a.pdf"), "NEW");
  const r = await moveFromInbox({ workspaceDir: f.workspace, target: "docs", files: ["a.pdf"] });
  assert.deepEqual(r.moved, ["a.pdf → docs/a (2).pdf"]);
  assert.equal(await fsp.readFile(path.join(f.workspace, "docs", "a.pdf"), "utf8"), "OLD");
  assert.equal(await fsp.readFile(path.join(f.workspace, "docs", "a (1).pdf"), "utf8"), "OLDER");
  assert.equal(await fsp.readFile(path.join(f.workspace, "docs", "a (2).pdf"), "utf8"), "NEW");
  // Folders too.
  await fsp.mkdir(path.join(f.inbox, "photos"));
  await fsp.writeFile(path.join(f.inbox, "photos", "p.jpg"), "P");
  await fsp.mkdir(path.join(f.workspace, "docs", "photos"));
  const d = await moveFromInbox({ workspaceDir: f.workspace, target: "docs", files: ["photos"] });
  assert.deepEqual(d.moved, ["photos → docs/photos (1)"]);
  assert.equal(await fsp.readFile(path.join(f.workspace, "docs", "photos (1)", "p.jpg"), "utf8"), "P");
  assert.deepEqual(await fsp.readdir(path.join(f.workspace, "docs", "photos")), []);
});

test("moveFromInbox refuses targets outside the workspace with INVALID_PATH and creates nothing", async (t) => {
  const f = await fixture(t);
  await fsp.writeFile(path.join(f.inbox, "a.pdf"), "A");
  await fsp.writeFile(path.join(f.workspace, "file.txt"), "not a folder");
  await fsp.symlink(f.outside, path.join(f.workspace, "link-out"));
  const targets = ["../x", "docs/../../x", f.outside, "/tmp", "C:\\Windows", "link-out", "link-out/sub/deeper", "_inbox", "_inbox/sub", "file.txt", "", "  "];
  for (const target of targets) {
    await assert.rejects(moveFromInbox({ workspaceDir: f.workspace, target, files: ["a.pdf"] }), invalidPath, `target ${JSON.stringify(target)}`);
  }
  assert.deepEqual(await fsp.readdir(f.outside), [], "nothing was created outside the workspace");
  assert.deepEqual(await fsp.readdir(f.inbox), ["a.pdf"], "the file is still in the inbox");
  await assert.rejects(fsp.stat(path.join(f.root, "x")));
});

test("a symbolic link to a folder inside the workspace is a valid target", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.workspace, "real"));
  await fsp.symlink(path.join(f.workspace, "real"), path.join(f.workspace, "alias"));
  await fsp.writeFile(path.join(f.inbox, "a.pdf"), "A");
  const r = await moveFromInbox({ workspaceDir: f.workspace, target: "alias", files: ["a.pdf"] });
  assert.deepEqual(r.moved, ["a.pdf → real/a.pdf"]);
  assert.equal(await fsp.readFile(path.join(f.workspace, "real", "a.pdf"), "utf8"), "A");
});

test("moveFromInbox skips unsafe names, missing names and symbolic links, reporting each", async (t) => {
  const f = await fixture(t);
  await fsp.writeFile(path.join(f.outside, "secret"), "S");
  await fsp.writeFile(path.join(f.workspace, "keep.txt"), "K");
  await fsp.symlink(path.join(f.outside, "secret"), path.join(f.inbox, "link"));
  await fsp.writeFile(path.join(f.inbox, "ok.txt"), "O");
  const r = await moveFromInbox({ workspaceDir: f.workspace, target: "dest", files: ["../keep.txt", "sub/x", "..", "link", "ghost.txt", "ok.txt"] });
  assert.deepEqual(r.moved, ["ok.txt → dest/ok.txt"]);
  assert.equal(r.errors.length, 5);
  assert.match(r.errors[0]!, /^\.\.\/keep\.txt: not a plain file name/);
  assert.match(r.errors[1]!, /^sub\/x: not a plain file name/);
  assert.match(r.errors[3]!, /^link: symbolic link, skipped/);
  assert.match(r.errors[4]!, /^ghost\.txt: not in _inbox/);
  assert.deepEqual(r.remaining, ["link"]);
  assert.equal(await fsp.readFile(path.join(f.workspace, "keep.txt"), "utf8"), "K", "../keep.txt was not touched");
  assert.equal(await fsp.readFile(path.join(f.outside, "secret"), "utf8"), "S");
  assert.deepEqual((await fsp.readdir(path.join(f.workspace, "dest"))).sort(), ["ok.txt"]);
  // Moving "everything" also leaves the symlink where it is.
  const all = await moveFromInbox({ workspaceDir: f.workspace, target: "dest" });
  assert.deepEqual(all, { moved: [], errors: ["link: symbolic link, skipped"], remaining: ["link"] });
});

test("across devices a move copies then removes, keeping the time and never replacing", async (t) => {
  const shm = "/dev/shm";
  const other = await fsp.stat(shm).then((s) => s.isDirectory(), () => false);
  if (!other) return t.skip("no /dev/shm");
  const srcRoot = await fsp.mkdtemp(path.join(shm, "ws-inbox-"));
  const dstRoot = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-inbox-dst-"));
  t.after(async () => {
    await fsp.rm(srcRoot, { recursive: true, force: true });
    await fsp.rm(dstRoot, { recursive: true, force: true });
  });
  if ((await fsp.stat(srcRoot)).dev === (await fsp.stat(dstRoot)).dev) return t.skip("/dev/shm is on the same device as the temp folder");
  await fsp.writeFile(path.join(srcRoot, "a.bin"), "AAA");
  const mtime = new Date("2025-05-05T05:05:05Z");
  await fsp.utimes(path.join(srcRoot, "a.bin"), mtime, mtime);
  await moveEntryNoClobber(path.join(srcRoot, "a.bin"), path.join(dstRoot, "a.bin"), false);
  assert.equal(await fsp.readFile(path.join(dstRoot, "a.bin"), "utf8"), "AAA");
  assert.equal((await fsp.stat(path.join(dstRoot, "a.bin"))).mtime.getTime(), mtime.getTime());
  await assert.rejects(fsp.stat(path.join(srcRoot, "a.bin")));

  await fsp.writeFile(path.join(srcRoot, "b.bin"), "NEW");
  await fsp.writeFile(path.join(dstRoot, "b.bin"), "OLD");
  await assert.rejects(moveEntryNoClobber(path.join(srcRoot, "b.bin"), path.join(dstRoot, "b.bin"), false), (e: NodeJS.ErrnoException) => e.code === "EEXIST");
  assert.equal(await fsp.readFile(path.join(dstRoot, "b.bin"), "utf8"), "OLD");
  assert.equal(await fsp.readFile(path.join(srcRoot, "b.bin"), "utf8"), "NEW");

  await fsp.mkdir(path.join(srcRoot, "dir/sub"), { recursive: true });
  await fsp.writeFile(path.join(srcRoot, "dir/sub/c.txt"), "C");
  await moveEntryNoClobber(path.join(srcRoot, "dir"), path.join(dstRoot, "dir"), true);
  assert.equal(await fsp.readFile(path.join(dstRoot, "dir/sub/c.txt"), "utf8"), "C");
  await assert.rejects(fsp.stat(path.join(srcRoot, "dir")));
  assert.deepEqual((await fsp.readdir(dstRoot)).sort(), ["a.bin", "b.bin", "dir"], "no temporary folder left");
});

test("a folder is never moved over an empty folder that has its name, on one device or across two", async (t) => {
  const here = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-inbox-empty-"));
  t.after(() => fsp.rm(here, { recursive: true, force: true }));
  const roots = [here];
  const shm = "/dev/shm";
  if (await fsp.stat(shm).then((s) => s.isDirectory(), () => false)) {
    const other = await fsp.mkdtemp(path.join(shm, "ws-inbox-empty-"));
    t.after(() => fsp.rm(other, { recursive: true, force: true }));
    if ((await fsp.stat(other)).dev !== (await fsp.stat(here)).dev) roots.push(other);
  }
  for (const srcRoot of roots) {
    const src = path.join(srcRoot, `dir-${roots.indexOf(srcRoot)}`);
    await fsp.mkdir(src);
    await fsp.writeFile(path.join(src, "a.txt"), "A");
    const dest = path.join(here, `taken-${roots.indexOf(srcRoot)}`);
    await fsp.mkdir(dest);
    const before = await fsp.stat(dest);
    // A rename alone would replace an empty folder at its target.
    await assert.rejects(moveEntryNoClobber(src, dest, true), (e: NodeJS.ErrnoException) => e.code === "EEXIST");
    const after = await fsp.stat(dest);
    assert.equal(after.ino, before.ino, "the folder that had the name is still there");
    assert.deepEqual(await fsp.readdir(dest), []);
    assert.deepEqual(await fsp.readdir(src), ["a.txt"]);
    assert.ok(!(await fsp.readdir(here)).some((n) => n.startsWith(".ws-sync-")), "no temporary folder left");
  }
  if (roots.length === 1) t.diagnostic("no second device (/dev/shm): the move across devices was not tried");
});

test("the cross-device fallback never reads through a symlink or from a FIFO that took the entry's name", async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "inbox-xdev-"));
  try {
    await fsp.writeFile(path.join(dir, "secret.txt"), "outside secret");
    await fsp.symlink(path.join(dir, "secret.txt"), path.join(dir, "linked.txt"));
    await assert.rejects(copyThenRemove(path.join(dir, "linked.txt"), path.join(dir, "out1.txt"), false), /symlink/);
    execFileSync("mkfifo", [path.join(dir, "pipe.txt")]);
    await assert.rejects(copyThenRemove(path.join(dir, "pipe.txt"), path.join(dir, "out2.txt"), false), /not a regular file/);
    await fsp.writeFile(path.join(dir, "ok.txt"), "ok");
    const t = new Date("2020-01-02T03:04:05Z");
    await fsp.utimes(path.join(dir, "ok.txt"), t, t);
    await copyThenRemove(path.join(dir, "ok.txt"), path.join(dir, "out3.txt"), false);
    assert.equal(await fsp.readFile(path.join(dir, "out3.txt"), "utf8"), "ok");
    assert.equal((await fsp.stat(path.join(dir, "out3.txt"))).mtimeMs, t.getTime());
    assert.deepEqual((await fsp.readdir(dir)).sort(), ["linked.txt", "out3.txt", "pipe.txt", "secret.txt"]);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

/** A temporary folder removed after the test. */
async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix = "inbox-folder-"): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every entry under `dir`, never following a link: `name/` a folder, `name -> target` a link, `name|` anything else but a file. */
async function listTree(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await fsp.readdir(path.join(dir, rel))).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = await fsp.lstat(path.join(dir, r));
    if (st.isDirectory()) out.push(`${r}/`, ...(await listTree(dir, r)));
    else if (st.isSymbolicLink()) out.push(`${r} -> ${await fsp.readlink(path.join(dir, r))}`);
    else out.push(st.isFile() ? r : `${r}|`);
  }
  return out;
}

/** The content of every regular file under `dir` (links are not followed). */
async function allContents(dir: string): Promise<string> {
  const files = (await listTree(dir)).filter((e) => !e.endsWith("/") && !e.endsWith("|") && !e.includes(" -> "));
  return (await Promise.all(files.map((f) => fsp.readFile(path.join(dir, f), "utf8")))).join("\n");
}

test("across devices a folder is copied entry by entry (content, symlinks as they are, empty folders, times, modes), then removed", async (t) => {
  const root = await tempDir(t);
  const src = path.join(root, "_inbox", "photos");
  const dest = path.join(root, "target", "photos");
  await fsp.mkdir(path.join(src, "sub", "deeper"), { recursive: true });
  await fsp.mkdir(path.join(src, "empty"));
  await fsp.mkdir(path.join(root, "target"));
  await fsp.writeFile(path.join(root, "outside.txt"), "OUTSIDE");
  await fsp.writeFile(path.join(src, "a.txt"), "A");
  await fsp.writeFile(path.join(src, "sub", "deeper", "run.sh"), "#!/bin/sh\n");
  await fsp.symlink("../a.txt", path.join(src, "sub", "rel-link"));
  await fsp.symlink(path.join(root, "outside.txt"), path.join(src, "sub", "abs-link"));
  const modes: Record<string, number> = { "a.txt": 0o640, "sub/deeper/run.sh": 0o755, "sub/deeper": 0o700, sub: 0o755, empty: 0o750, "": 0o751 };
  // Bottom-up, so that no later change moves a folder's time.
  const order = ["a.txt", "sub/deeper/run.sh", "sub/deeper", "sub", "empty", ""];
  for (const [i, rel] of order.entries()) {
    await fsp.chmod(path.join(src, rel), modes[rel]!);
    const time = new Date(Date.UTC(2024, 0, 1 + i, 1, 2, 3));
    await fsp.utimes(path.join(src, rel), time, time);
  }

  const left = await copyThenRemove(src, dest, true);

  assert.deepEqual(left, []);
  assert.deepEqual(await listTree(dest), ["a.txt", "empty/", "sub/", `sub/abs-link -> ${path.join(root, "outside.txt")}`, "sub/deeper/", "sub/deeper/run.sh", "sub/rel-link -> ../a.txt"]);
  assert.equal(await fsp.readFile(path.join(dest, "a.txt"), "utf8"), "A");
  assert.equal(await fsp.readFile(path.join(dest, "sub", "deeper", "run.sh"), "utf8"), "#!/bin/sh\n");
  for (const [i, rel] of order.entries()) {
    const st = await fsp.lstat(path.join(dest, rel));
    assert.equal(st.mode & 0o7777, modes[rel], `mode of ${rel || "."}`);
    assert.equal(st.mtime.getTime(), Date.UTC(2024, 0, 1 + i, 1, 2, 3), `time of ${rel || "."}`);
  }
  await assert.rejects(fsp.lstat(src), { code: "ENOENT" });
  assert.deepEqual(await fsp.readdir(path.join(root, "target")), ["photos"], "no temporary folder left");
  assert.equal(await fsp.readFile(path.join(root, "outside.txt"), "utf8"), "OUTSIDE");
});

test("across devices a folder never replaces one at the destination; the failed copy leaves no temporary folder and the source untouched", async (t) => {
  const root = await tempDir(t);
  const src = path.join(root, "_inbox", "photos");
  const dest = path.join(root, "target", "photos");
  await fsp.mkdir(path.join(src, "sub"), { recursive: true });
  await fsp.writeFile(path.join(src, "sub", "b.txt"), "B");
  await fsp.mkdir(dest, { recursive: true });
  await fsp.writeFile(path.join(dest, "old.txt"), "OLD");
  await assert.rejects(copyThenRemove(src, dest, true), { code: "EEXIST" });
  assert.deepEqual(await listTree(path.join(root, "target")), ["photos/", "photos/old.txt"]);
  assert.deepEqual(await listTree(src), ["sub/", "sub/b.txt"]);
});

test("across devices a FIFO in a folder is neither copied nor waited on: it stays in the inbox with its folder, and the move says so", { timeout: 20_000 }, async (t) => {
  const root = await tempDir(t);
  const src = path.join(root, "_inbox", "photos");
  const dest = path.join(root, "target", "photos");
  await fsp.mkdir(path.join(src, "sub"), { recursive: true });
  await fsp.mkdir(path.join(root, "target"));
  await fsp.writeFile(path.join(src, "a.txt"), "A");
  await fsp.writeFile(path.join(src, "sub", "b.txt"), "B");
  execFileSync("mkfifo", [path.join(src, "sub", "pipe")]);

  const left = await copyThenRemove(src, dest, true);

  assert.deepEqual(left.map((l) => l.rel), ["sub/pipe"]);
  assert.match(left[0]!.why, /FIFO/);
  assert.deepEqual(await listTree(dest), ["a.txt", "sub/", "sub/b.txt"]);
  assert.deepEqual(await listTree(src), ["sub/", "sub/pipe|"], "the FIFO and the folders holding it stay");
  const line = describeLeftBehind("photos", left);
  assert.match(line, /^photos: moved, but 1 entry was not: it is still in _inbox\/photos: sub\/pipe \(a FIFO/);
  assert.match(line, /\. It would not move on a second try: delete it if not needed\.$/);
});

test("a file swapped for a symlink or a FIFO, or reached through a folder swapped for a symlink, is never read into the copy", { timeout: 20_000 }, async (t) => {
  const root = await tempDir(t);
  const src = path.join(root, "_inbox", "photos");
  const tmp = path.join(root, "target", ".tmp");
  const outside = path.join(root, "outside");
  await fsp.mkdir(path.join(outside, "dir"), { recursive: true });
  await fsp.writeFile(path.join(outside, "secret.txt"), "TOP SECRET");
  await fsp.writeFile(path.join(outside, "dir", "x.txt"), "TOP SECRET TOO");
  await fsp.mkdir(path.join(src, "sub"), { recursive: true });
  for (const f of ["a.txt", "p.txt", "ok.txt", "sub/x.txt"]) await fsp.writeFile(path.join(src, f), "inbox");
  const copy = await FolderCopy.open(src, tmp);
  await fsp.mkdir(path.join(tmp, "sub"), { recursive: true });
  // The walk saw regular files; by the time each is opened, something else has its name.
  await fsp.rm(path.join(src, "a.txt"));
  await fsp.symlink(path.join(outside, "secret.txt"), path.join(src, "a.txt"));
  await fsp.rm(path.join(src, "p.txt"));
  execFileSync("mkfifo", [path.join(src, "p.txt")]);
  await fsp.rename(path.join(src, "sub"), path.join(root, "sub-moved"));
  await fsp.symlink(path.join(outside, "dir"), path.join(src, "sub"));

  for (const rel of ["a.txt", "p.txt", "sub/x.txt", "ok.txt"]) await copy.copyFile(rel);

  assert.deepEqual(copy.left.map((l) => l.rel), ["a.txt", "p.txt", "sub/x.txt"]);
  for (const l of copy.left) assert.match(l.why, /changed during the move/);
  assert.deepEqual(await listTree(tmp), ["ok.txt", "sub/"]);
  assert.doesNotMatch(await allContents(tmp), /SECRET/);
  await copy.removeCopied();
  assert.deepEqual(await listTree(src), [`a.txt -> ${path.join(outside, "secret.txt")}`, "p.txt|", `sub -> ${path.join(outside, "dir")}`]);
  assert.equal(await fsp.readFile(path.join(outside, "secret.txt"), "utf8"), "TOP SECRET");
  assert.equal(await fsp.readFile(path.join(outside, "dir", "x.txt"), "utf8"), "TOP SECRET TOO");
});

test("after a folder's copy only what was copied, and is still the same, is removed from the inbox", async (t) => {
  const root = await tempDir(t);
  const src = path.join(root, "_inbox", "photos");
  const tmp = path.join(root, "target", ".tmp");
  await fsp.mkdir(path.join(src, "sub"), { recursive: true });
  await fsp.mkdir(path.join(root, "target"));
  for (const f of ["a.txt", "b.txt", "gone.txt", "sub/c.txt"]) await fsp.writeFile(path.join(src, f), f);
  await fsp.symlink("../a.txt", path.join(src, "sub", "link"));
  const copy = await FolderCopy.open(src, tmp);
  await copy.copyAll();
  assert.deepEqual(await listTree(tmp), ["a.txt", "b.txt", "gone.txt", "sub/", "sub/c.txt", "sub/link -> ../a.txt"]);

  // Meanwhile: new files dropped in, one file rewritten, a link replaced (its inode may be reused), one file deleted.
  await fsp.writeFile(path.join(src, "new.txt"), "dropped during the move");
  await fsp.mkdir(path.join(src, "sub", "newdir"));
  await fsp.writeFile(path.join(src, "sub", "newdir", "n.txt"), "dropped too");
  await fsp.appendFile(path.join(src, "b.txt"), " edited");
  await fsp.rm(path.join(src, "sub", "link"));
  await fsp.symlink("../b.txt", path.join(src, "sub", "link"));
  await fsp.rm(path.join(src, "gone.txt"));
  await copy.removeCopied();

  assert.deepEqual(await listTree(src), ["b.txt", "new.txt", "sub/", "sub/link -> ../b.txt", "sub/newdir/", "sub/newdir/n.txt"]);
  assert.equal(await fsp.readFile(path.join(src, "b.txt"), "utf8"), "b.txt edited");
  const left = [...copy.left].sort((x, y) => x.rel.localeCompare(y.rel));
  assert.deepEqual(left.map((l) => l.rel), ["b.txt", "new.txt", "sub/link", "sub/newdir"]);
  assert.match(left[0]!.why, /changed during the move/);
  assert.match(left[1]!.why, /added during the move/);
  assert.match(left[3]!.why, /added during the move/);
  const line = describeLeftBehind("photos", copy.left);
  assert.match(line, /^photos: moved, but 4 entries were not: they are still in _inbox\/photos: b\.txt \(changed/);
  assert.match(line, /\. Move "photos" again to bring them over \(into a second folder, such as "photos \(1\)"\)\.$/);
});

test("across devices moveEntryNoClobber returns what stayed in a folder's source", { timeout: 20_000 }, async (t) => {
  const shm = "/dev/shm";
  if (!(await fsp.stat(shm).then((s) => s.isDirectory(), () => false))) return t.skip("no /dev/shm");
  const srcRoot = await fsp.mkdtemp(path.join(shm, "ws-inbox-"));
  t.after(() => fsp.rm(srcRoot, { recursive: true, force: true }));
  const dstRoot = await tempDir(t, "ws-inbox-dst-");
  if ((await fsp.stat(srcRoot)).dev === (await fsp.stat(dstRoot)).dev) return t.skip("/dev/shm is on the same device as the temp folder");
  await fsp.mkdir(path.join(srcRoot, "dir"));
  await fsp.writeFile(path.join(srcRoot, "dir", "a.txt"), "A");
  execFileSync("mkfifo", [path.join(srcRoot, "dir", "pipe")]);
  const left = await moveEntryNoClobber(path.join(srcRoot, "dir"), path.join(dstRoot, "dir"), true);
  assert.deepEqual(left.map((l) => l.rel), ["pipe"]);
  assert.deepEqual(await listTree(dstRoot), ["dir/", "dir/a.txt"]);
  assert.deepEqual(await listTree(srcRoot), ["dir/", "dir/pipe|"]);
});

test("a moved file's source name is removed only while it is still the file moved: one written to or put at its name meanwhile stays", async (t) => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-inbox-same-"));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const at = (n: string): string => path.join(dir, n);
  const old = new Date("2025-05-05T05:05:05Z");

  await fsp.writeFile(at("kept.txt"), "v1");
  await fsp.utimes(at("kept.txt"), old, old);
  const moved = await fsp.lstat(at("kept.txt"));
  assert.equal(await unlinkIfSame(at("kept.txt"), moved), true, "unchanged: removed");
  await assert.rejects(fsp.lstat(at("kept.txt")));
  assert.equal(await unlinkIfSame(at("kept.txt"), moved), true, "already gone: nothing to keep");

  await fsp.writeFile(at("written.txt"), "v1");
  await fsp.utimes(at("written.txt"), old, old);
  const before = await fsp.lstat(at("written.txt"));
  await fsp.appendFile(at("written.txt"), " and more, written during the move");
  assert.equal(await unlinkIfSame(at("written.txt"), before), false, "written to since: kept");
  assert.match(await fsp.readFile(at("written.txt"), "utf8"), /written during the move/);

  await fsp.writeFile(at("replaced.txt"), "v1");
  await fsp.utimes(at("replaced.txt"), old, old);
  const first = await fsp.lstat(at("replaced.txt"));
  await fsp.writeFile(at("other.txt"), "v2");
  await fsp.utimes(at("other.txt"), old, old); // same size and time, another file
  await fsp.rename(at("other.txt"), at("replaced.txt"));
  assert.equal(await unlinkIfSame(at("replaced.txt"), first), false, "another file at the name: kept");
  assert.equal(await fsp.readFile(at("replaced.txt"), "utf8"), "v2");

  // The move itself (same device: a hard link) reports nothing left for an unchanged file.
  await fsp.mkdir(at("dest"));
  await fsp.writeFile(at("plain.txt"), "P");
  assert.deepEqual(await moveEntryNoClobber(at("plain.txt"), at("dest/plain.txt"), false), []);
  await assert.rejects(fsp.lstat(at("plain.txt")));
  assert.equal(await fsp.readFile(at("dest/plain.txt"), "utf8"), "P");
  assert.match(describeChangedFile("notes.txt"), /^notes\.txt: moved as it was when the move began, but it changed during the move: the changed file is still in _inbox\/notes\.txt\. Move "notes\.txt" again .*"notes \(1\)\.txt"/);
});

test("a move's temp copy left by a crash (a file or a folder) is never uploaded by a sync, and is left where it is", async (t) => {
  const { moveTempName } = await import("../src/inbox/move.js");
  const { runSyncWithProvider } = await import("../src/sync/run.js");
  const { localBisync, syncSettings } = await import("./sync-suite.js");
  const { ws, cloudRoot, stateDir, provider } = await localBisync(t, "ws-inbox-leftover-");
  await fsp.mkdir(path.join(ws, "work"));
  await fsp.writeFile(path.join(ws, "work", "mine.txt"), "mine");
  // What a move killed mid-copy leaves: its temp copy of a file, and of a folder.
  const fileTemp = moveTempName(path.join(ws, "work", "report.pdf"));
  await fsp.writeFile(fileTemp, "half a rep");
  const folderTemp = moveTempName(path.join(ws, "work", "photos"));
  await fsp.mkdir(folderTemp);
  await fsp.writeFile(path.join(folderTemp, "a.jpg"), "jpg");
  for (const mode of ["mirror", "bisync"] as const) {
    const r = await runSyncWithProvider({ settings: syncSettings({ mode }), provider, workspaceDir: ws, stateDir: `${stateDir}-${mode}` });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.uploaded.filter((p) => !p.endsWith("mine.txt")), [], mode);
  }
  const inCloud = (await fsp.readdir(cloudRoot, { recursive: true })).map(String);
  assert.ok(!inCloud.some((p) => p.includes(path.basename(fileTemp)) || p.includes(path.basename(folderTemp))), inCloud.join(", "));
  assert.equal(await fsp.readFile(fileTemp, "utf8"), "half a rep", "left where it is");
  assert.equal(await fsp.readFile(path.join(folderTemp, "a.jpg"), "utf8"), "jpg");
});
