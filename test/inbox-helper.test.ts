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

test("the cross-device fallback never reads through a symlink or from a FIFO that took the entry's name", async () => {
  const { copyThenRemove } = await import("../src/inbox/move.js");
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
