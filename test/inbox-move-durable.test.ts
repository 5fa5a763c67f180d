/**
 * A move across devices copies, then removes the source: the copy must be on disk, under its name,
 * before anything of the source goes, or a crash right after could keep the removal (on the source's
 * device) and lose the copy (on the other). Checked on the system calls themselves (`strace`): every
 * copied file and folder, and the folder the copy is renamed into, is flushed (`fsync`) before the
 * first removal from the source.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { test } from "node:test";

// strace installed and allowed to trace here (a container may forbid ptrace).
const hasStrace = spawnSync("strace", ["-f", "-qq", "-o", "/dev/null", process.execPath, "-e", "0"]).status === 0;
if (!hasStrace && process.env.CI === "true") throw new Error("strace missing or not allowed to trace under CI: apt-get install -y strace (.ci/run installs it)");
const skip = hasStrace ? false : "needs strace, allowed to trace (apt-get install -y strace)";

const moveModule = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "inbox", "move.js")).href;

/** The traced calls of a child process that runs `copyThenRemove(src, dest, isDir)`, one per line, in order. */
function tracedMove(dir: string, src: string, dest: string, isDir: boolean): string[] {
  const log = path.join(dir, "strace.log");
  const script = `import { copyThenRemove } from ${JSON.stringify(moveModule)}; await copyThenRemove(${JSON.stringify(src)}, ${JSON.stringify(dest)}, ${isDir});`;
  execFileSync("strace", ["-f", "-y", "-qq", "-o", log, "-e", "trace=fsync,fdatasync,unlink,unlinkat,rmdir,rename,renameat,renameat2,link,linkat,openat", process.execPath, "--input-type=module", "-e", script], { stdio: "pipe" });
  return execFileSync("cat", [log], { encoding: "utf8" }).split("\n").filter(Boolean);
}

/**
 * The paths each line names (in quotes), by their path or through a folder's descriptor,
 * `/proc/self/fd/N/<name>`: N's path is the one its `openat` gave it last.
 */
function namedPaths(lines: string[]): string[][] {
  const fdPath = new Map<string, string>();
  return lines.map((l) => {
    // (An openat strace split in two, `<unfinished ...>` then `<... openat resumed>`, has its result on the second line.)
    const opened = /\bopenat\b.*\) = (\d+)<([^>]*)>/.exec(l);
    const named = [...l.matchAll(/"([^"]*)"/g)].map((m) => {
      const via = /^\/proc\/self\/fd\/(\d+)(\/.*)?$/.exec(m[1]!);
      return via ? `${fdPath.get(via[1]!) ?? "?"}${via[2] ?? ""}` : m[1]!;
    });
    if (opened) fdPath.set(opened[1]!, opened[2]!);
    return named;
  });
}

/** Index of the first line that removes something under `src` (an unlink or rmdir naming it; see {@link namedPaths}). */
function firstRemoval(lines: string[], src: string): number {
  const named = namedPaths(lines);
  return lines.findIndex((l, i) => /\b(unlink|unlinkat|rmdir)\(/.test(l) && named[i]!.some((target) => target === src || target.startsWith(`${src}/`)));
}

/** The paths `fsync` was called on before line `end` (strace -y names each descriptor's file). */
function flushedBefore(lines: string[], end: number): string[] {
  const out: string[] = [];
  for (const l of lines.slice(0, end)) {
    const m = /\bf(?:data)?sync\(\d+<([^>]*)>/.exec(l);
    if (m) out.push(m[1]!);
  }
  return out;
}

test("a folder moved across devices is on disk, every file and folder and its new name, before the source is removed", { skip }, async () => {
  // Real paths: strace names each descriptor's file by its real path.
  const dir = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-durable-")));
  try {
    const src = path.join(dir, "inbox", "report");
    await fsp.mkdir(path.join(src, "sub"), { recursive: true });
    await fsp.writeFile(path.join(src, "a.txt"), "a");
    await fsp.writeFile(path.join(src, "sub", "b.txt"), "b");
    await fsp.symlink("a.txt", path.join(src, "link"));
    await fsp.mkdir(path.join(dir, "work"));
    const dest = path.join(dir, "work", "report");
    const lines = tracedMove(dir, src, dest, true);
    const removal = firstRemoval(lines, src);
    assert.ok(removal > 0, `the source is removed:\n${lines.join("\n")}`);
    const flushed = flushedBefore(lines, removal);
    for (const suffix of ["/a.txt", "/sub/b.txt", "/sub"]) {
      assert.ok(flushed.some((p) => p.endsWith(suffix) && !p.startsWith(src)), `${suffix} of the copy flushed before the removal: ${flushed.join(", ")}`);
    }
    // The copy's own folder (it holds the link), then the folder it was renamed into.
    assert.ok(flushed.some((p) => path.dirname(p) === path.join(dir, "work") && p !== dest), `the copy's folder flushed: ${flushed.join(", ")}`);
    assert.equal(flushed.at(-1), path.join(dir, "work"), `the destination folder is flushed last, after the rename: ${flushed.join(", ")}`);
    assert.deepEqual((await fsp.readdir(dest)).sort(), ["a.txt", "link", "sub"]);
    await assert.rejects(fsp.lstat(src), { code: "ENOENT" });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test("a file moved across devices is written under a temp name, on disk, then linked to its name, before the source is removed", { skip }, async () => {
  // Real paths: strace names each descriptor's file by its real path.
  const dir = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-durable-")));
  try {
    const src = path.join(dir, "inbox", "note.txt");
    await fsp.mkdir(path.dirname(src));
    await fsp.writeFile(src, "note");
    await fsp.mkdir(path.join(dir, "work"));
    const dest = path.join(dir, "work", "note.txt");
    const lines = tracedMove(dir, src, dest, false);
    const removal = firstRemoval(lines, src);
    assert.ok(removal > 0, `the source is removed:\n${lines.join("\n")}`);
    // Never opened for writing under its own name: a crash mid-copy leaves no partial file there.
    const named = namedPaths(lines);
    assert.ok(!lines.some((l, i) => /openat\(/.test(l) && named[i]!.includes(dest) && /O_CREAT/.test(l)), lines.join("\n"));
    const flushed = flushedBefore(lines, removal);
    assert.equal(flushed.length, 2, flushed.join(", "));
    assert.match(flushed[0]!, new RegExp(`^${dir}/work/\\.ws-sync-[0-9a-f]{16}-[0-9a-f]{12}\\.tmp$`), "the copy, under its temp name");
    assert.equal(flushed[1], path.join(dir, "work"), "then the folder, after the copy got its name");
    const linked = lines.findIndex((l, i) => /\blink(at)?\(/.test(l) && named[i]!.includes(dest));
    const folderFlush = lines.findIndex((l) => /\bfsync\(/.test(l) && l.includes(`<${path.join(dir, "work")}>`));
    assert.ok(linked > 0 && linked < folderFlush && folderFlush < removal, `link, then the folder flushed, then the removal:\n${lines.join("\n")}`);
    assert.deepEqual(await fsp.readdir(path.join(dir, "work")), ["note.txt"]);
    assert.equal(await fsp.readFile(dest, "utf8"), "note");
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
