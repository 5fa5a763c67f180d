/**
 * Symlinks that resolve outside the restore folder through other extracted links are refused by
 * restore and by verify; ordinary link chains inside the folder still restore.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createReadStream, promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { pack as tarPack } from "tar-stream";

type Entry = { name: string; type?: "file" | "directory" | "symlink"; linkname?: string; body?: string };
import { SymlinkGuard, checkArchive, extractArchive } from "../src/archive/index.js";
import { tempDir } from "./support/tree.js";
import { pythonTarGz } from "./archive-helpers.js";
import { execFileSync } from "node:child_process";

function tgz(entries: readonly Entry[]): Readable {
  const p = tarPack();
  for (const { body, ...h } of entries) {
    if (body === undefined) p.entry(h);
    else p.entry(h, body);
  }
  p.finalize();
  return p.pipe(createGzip());
}

test("SymlinkGuard resolves through earlier links (pure)", () => {
  const g = new SymlinkGuard("/restore");
  assert.equal(g.check("a/b/c/l", "../../.."), undefined, "l points at the root: inside");
  g.add("a/b/c/l", "../../..");
  assert.match(g.check("etc-link", "a/b/c/l/../../../../etc/shadow") ?? "", /outside/);
  assert.equal(g.check("ok", "a/b/c/l/a"), undefined);
  assert.match(g.check("abs", "/etc/passwd") ?? "", /outside/);
  assert.equal(g.check("abs-in", "/restore/a/b"), undefined);
});

test("a link may not be created where an earlier link went through a folder", () => {
  const g = new SymlinkGuard("/restore");
  assert.equal(g.check("x", "a/../y"), undefined);
  g.add("x", "a/../y");
  // a -> . would make x resolve to ../y, outside.
  assert.match(g.check("a", ".") ?? "", /another symlink/);
});

test("ordinary link chains inside the folder restore", async (t) => {
  const { dir, cleanup } = await tempDir("ws-guard-");
  t.after(cleanup);
  const out = path.join(dir, "out");
  await extractArchive(
    tgz([
      { name: "releases/v2/bin/tool", body: "tool\n" },
      { name: "current", type: "symlink", linkname: "releases/v2" },
      { name: "tool", type: "symlink", linkname: "current/bin/tool" },
    ]),
    out,
  );
  assert.equal(await fsp.readFile(path.join(out, "tool"), "utf8"), "tool\n");
});

for (const [label, entries] of [
  [
    "through a link to the root",
    [
      { name: "a/b/c/", type: "directory" },
      { name: "a/b/c/l", type: "symlink", linkname: "../../.." },
      { name: "etc-link", type: "symlink", linkname: "a/b/c/l/../../../../etc/shadow" },
    ],
  ],
  [
    "by re-pointing a folder an earlier link went through",
    [
      { name: "x", type: "symlink", linkname: "a/../y" },
      { name: "a", type: "symlink", linkname: "." },
    ],
  ],
] as const) {
  test(`restore and verify refuse a link escaping ${label}`, async (t) => {
    const { dir, cleanup } = await tempDir("ws-guard-");
    t.after(cleanup);
    const out = path.join(dir, "out");
    const list: readonly Entry[] = entries;
    await assert.rejects(extractArchive(tgz(list), out), (err: NodeJS.ErrnoException) => err.code === "UNSAFE_ARCHIVE_ENTRY");
    await assert.rejects(checkArchive(tgz(list)), (err: NodeJS.ErrnoException) => err.code === "UNSAFE_ARCHIVE_ENTRY");
  });
}

test("a file and a folder with mode 000 keep mode 000 in the archive", async (t) => {
  const { createArchiveStream, walkIncludeSet } = await import("../src/archive/index.js");
  const { execFileSync } = await import("node:child_process");
  const { createWriteStream } = await import("node:fs");
  const { pipeline } = await import("node:stream/promises");
  const { dir, cleanup } = await tempDir("ws-mode-");
  const ws = path.join(dir, "workspace");
  // Restore a usable mode before the temp folder is removed (hooks run in order).
  t.after(async () => {
    await fsp.chmod(path.join(ws, "locked"), 0o755);
    await cleanup();
  });
  await fsp.mkdir(path.join(ws, "locked"), { recursive: true });
  await fsp.writeFile(path.join(ws, "secret"), "x");
  await fsp.chmod(path.join(ws, "secret"), 0o000);
  await fsp.chmod(path.join(ws, "locked"), 0o000);
  const walk = await walkIncludeSet({ include: ["workspace"], workspaceDir: ws, stateDir: path.join(dir, "none") });
  const out = path.join(dir, "a.tgz");
  await pipeline(createArchiveStream(walk), createWriteStream(out));
  const listing = execFileSync("tar", ["-tvzf", out]).toString();
  assert.match(listing, /^---------- .* workspace\/secret$/m);
  assert.match(listing, /^d--------- .* workspace\/locked\/?$/m);
});

test("a link some check resolved through may not be replaced later (pure)", () => {
  const g = new SymlinkGuard("/restore");
  g.add("l2", "d1/d2/d3");
  assert.equal(g.check("l1", "l2/../../../etc"), undefined, "through l2 it stays inside");
  g.add("l1", "l2/../../../etc");
  assert.equal(g.pinned("l2"), true);
  assert.match(g.check("l2", ".") ?? "", /another symlink/);
  // Replaced by a file first (the guard forgets the link), then by a link: still refused.
  g.remove("l2");
  assert.match(g.check("l2", ".") ?? "", /another symlink/);
});

for (const [label, replaceFirst] of [
  ["directly", ""],
  ["after a file replaced it", "add('l2', 'file', data=b'x')"],
] as const) {
  test(`restore and verify refuse re-pointing a link an earlier link resolved through (${label}; python tarfile)`, async (t) => {
    const { dir, cleanup } = await tempDir("ws-guard-");
    t.after(cleanup);
    const file = path.join(dir, "a.tgz");
    pythonTarGz(
      file,
      ["add('d1/d2/d3', 'dir')", "add('l2', 'sym', 'd1/d2/d3')", "add('l1', 'sym', 'l2/../../../etc')", replaceFirst, "add('l2', 'sym', '.')"].join("\n"),
    );
    const out = path.join(dir, "out");
    await assert.rejects(extractArchive(createReadStream(file), out), (err: NodeJS.ErrnoException) => err.code === "UNSAFE_ARCHIVE_ENTRY" && /"l2"/.test(err.message));
    await assert.rejects(checkArchive(createReadStream(file)), (err: NodeJS.ErrnoException) => err.code === "UNSAFE_ARCHIVE_ENTRY" && /"l2"/.test(err.message));
    if (replaceFirst !== "") {
      // The file may not replace the link l1 resolves through, whatever the symlink policy.
      await assert.rejects(extractArchive(createReadStream(file), path.join(dir, "skip"), { externalSymlinks: "skip" }), /"l2"/);
      return;
    }
    // "skip" leaves the re-pointing link out: l1 still resolves inside.
    const skipped = path.join(dir, "skipped");
    const warnings: string[] = [];
    await extractArchive(createReadStream(file), skipped, { externalSymlinks: "skip", onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1, warnings.join("\n"));
    const real = await fsp.realpath(path.join(skipped, "l1")).catch(() => undefined);
    if (real !== undefined) assert.ok(real.startsWith(await fsp.realpath(skipped)), real);
  });
}

test("a hard link to a symlink (GNU tar) restores as the same symlink, and verify agrees", async (t) => {
  const { dir, cleanup } = await tempDir("ws-guard-");
  t.after(cleanup);
  const src = path.join(dir, "src");
  await fsp.mkdir(path.join(src, "d"), { recursive: true });
  await fsp.writeFile(path.join(src, "d", "f"), "f\n");
  await fsp.symlink("f", path.join(src, "d", "sl"));
  execFileSync("ln", ["-P", path.join(src, "d", "sl"), path.join(src, "d", "sl2")]);
  const file = path.join(dir, "a.tgz");
  execFileSync("tar", ["-czf", file, "-C", src, "."]);
  assert.match(execFileSync("tar", ["-tvzf", file]).toString(), /^h.* \.\/d\/sl2? link to \.\/d\/sl2?$/m);
  const out = path.join(dir, "out");
  await extractArchive(createReadStream(file), out);
  for (const n of ["sl", "sl2"]) assert.equal(await fsp.readlink(path.join(out, "d", n)), "f");
  assert.equal(await fsp.readFile(path.join(out, "d", "sl2"), "utf8"), "f\n");
  await checkArchive(createReadStream(file));
});

test("a hard link to a symlink is checked where it is: one that would lead outside is refused by restore and verify", async (t) => {
  const { dir, cleanup } = await tempDir("ws-guard-");
  t.after(cleanup);
  const file = path.join(dir, "a.tgz");
  pythonTarGz(file, ["add('f', data=b'f')", "add('d/sl', 'sym', '../f')", "add('sl3', 'hard', 'd/sl')"].join("\n"));
  await assert.rejects(extractArchive(createReadStream(file), path.join(dir, "out")), (err: NodeJS.ErrnoException) => err.code === "UNSAFE_ARCHIVE_ENTRY" && /"sl3"/.test(err.message));
  await assert.rejects(checkArchive(createReadStream(file)), (err: NodeJS.ErrnoException) => err.code === "UNSAFE_ARCHIVE_ENTRY" && /"sl3"/.test(err.message));
  // A hard link to a folder is refused by both alike.
  const dirLink = path.join(dir, "b.tgz");
  pythonTarGz(dirLink, ["add('d', 'dir')", "add('x', 'hard', 'd')"].join("\n"));
  await assert.rejects(extractArchive(createReadStream(dirLink), path.join(dir, "out2")), /not a file or symlink extracted earlier/);
  await assert.rejects(checkArchive(createReadStream(dirLink)), /not a file or symlink extracted earlier/);
});

test("an absolute target below the root is walked through links, not collapsed on its text (pure, and restore and verify agree)", async (t) => {
  const g = new SymlinkGuard("/restore");
  g.add("a", ".");
  const climb = `/restore/${"a/".repeat(8)}${"../".repeat(8)}etc/passwd`;
  // Collapsed as text it is /restore/etc/passwd; through the link `a` (the root) each `..` climbs.
  assert.match(g.check("x", climb) ?? "", /outside/);
  assert.equal(g.check("y", "/restore/a/a/file"), undefined, "through the link to the root, still inside");
  assert.match(g.check("z", "/restoreX/file") ?? "", /outside/, "a sibling folder whose name starts like the root's");
  assert.match(g.check("w", "/restore/../restore2/f") ?? "", /outside/);
  assert.equal(g.check("dot", "/./restore/./a/file"), undefined, "a `.` changes nothing");
  assert.match(g.check("dotdot", "/restore/../restore/file") ?? "", /outside/, "a `..` at the root's own components: refused, strict");
  // The same archive through extract and check.
  const { dir, cleanup } = await tempDir("ws-guard-abs-");
  t.after(cleanup);
  const out = path.join(dir, "out");
  const entries: Entry[] = [
    { name: "a", type: "symlink", linkname: "." },
    { name: "x", type: "symlink", linkname: `${out}/${"a/".repeat(8)}${"../".repeat(8)}etc/passwd` },
  ];
  await assert.rejects(extractArchive(tgz(entries), out), (err: unknown) => (err as { code?: string }).code === "UNSAFE_ARCHIVE_ENTRY");
  await assert.rejects(fsp.lstat(path.join(out, "x")), /ENOENT/);
  await assert.rejects(checkArchive(tgz(entries)), (err: unknown) => (err as { code?: string }).code === "UNSAFE_ARCHIVE_ENTRY");
});
