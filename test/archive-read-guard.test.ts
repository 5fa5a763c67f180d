/**
 * The packer reads each file at the moment it stores it: a file swapped for a symlink or a FIFO
 * since the walk saw it is skipped with a warning (never read through the link, never waited on).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract as tarExtract } from "tar-stream";
import type { ArchiveEntry } from "../src/archive/entry.js";
import { createArchiveStream } from "../src/archive/pack.js";
import { walkSources, type WalkResult } from "../src/archive/walk.js";
import { tempDir } from "./support/tree.js";

/** The archive's files and their contents. */
async function contents(walk: WalkResult, onWarning: (m: string) => void): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ex = tarExtract();
  ex.on("entry", (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: unknown) => chunks.push(c as Buffer));
    stream.on("end", () => {
      out.set(h.name, Buffer.concat(chunks).toString("utf8"));
      next();
    });
  });
  await pipeline(createArchiveStream(walk, { onWarning }), createGunzip(), ex);
  return out;
}

test("a file swapped for a symlink or a FIFO after the walk is skipped, not read through or waited on", async (t) => {
  const made = await tempDir();
  t.after(made.cleanup);
  // The entries below carry no realPath: their paths must be real (a temp folder may sit behind a link).
  const dir = await fsp.realpath(made.dir);
  const ws = path.join(dir, "ws");
  await fsp.mkdir(ws);
  await fsp.writeFile(path.join(dir, "secret.txt"), "outside secret");
  await fsp.writeFile(path.join(ws, "ok.txt"), "ok");
  // What the walk saw: three regular files of 14 bytes (two of them are no longer that).
  await fsp.symlink(path.join(dir, "secret.txt"), path.join(ws, "linked.txt"));
  execFileSync("mkfifo", [path.join(ws, "pipe.txt")]);
  await fsp.symlink(path.join(dir, "secret.txt"), path.join(ws, "big.bin"));
  const file = (name: string, size: number): ArchiveEntry => ({ type: "file", name, sourcePath: path.join(ws, name), mode: 0o644, mtime: Date.now(), uid: 0, gid: 0, size });
  const entries = [file("ok.txt", 2), file("linked.txt", 14), file("pipe.txt", 14), file("big.bin", 300 * 1024)];
  const walk: WalkResult = { entries: () => entries, sources: [], missing: [], totalBytes: 0, fileCount: entries.length, tarBytesUpperBound: 1 << 20, warnings: [], skipped: [] };
  const warnings: string[] = [];
  const got = await contents(walk, (m) => warnings.push(m));
  assert.deepEqual([...got.keys()], ["ok.txt"]);
  assert.equal(got.get("ok.txt"), "ok");
  for (const name of ["linked.txt", "pipe.txt", "big.bin"]) assert.ok(warnings.some((w) => w.includes(name) && /Skipped/.test(w)), `${name}: ${warnings.join(" | ")}`);
  assert.ok(![...got.values()].some((v) => v.includes("outside secret")));
});

test("an item named through a symlink is still backed up: the user named it", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await fsp.writeFile(path.join(dir, "real.json"), "{}");
  await fsp.symlink(path.join(dir, "real.json"), path.join(dir, "openclaw.json"));
  const walk = await walkSources([{ item: "config", path: path.join(dir, "openclaw.json"), archiveName: "openclaw.json" }]);
  const warnings: string[] = [];
  const got = await contents(walk, (m) => warnings.push(m));
  assert.equal(got.get("openclaw.json"), "{}", warnings.join(" | "));
});

test("a folder swapped for a symlink after the walk is not read through, also under an item named through a link", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const real = path.join(dir, "real-ws");
  await fsp.mkdir(path.join(real, "docs"), { recursive: true });
  await fsp.mkdir(path.join(dir, "outside"));
  await fsp.writeFile(path.join(real, "docs", "a.txt"), "mine");
  await fsp.writeFile(path.join(real, "ok.txt"), "ok");
  await fsp.writeFile(path.join(dir, "outside", "a.txt"), "outside secret");
  await fsp.symlink(real, path.join(dir, "workspace")); // the user names the workspace through a link
  const walk = await walkSources([{ item: "workspace", path: path.join(dir, "workspace"), archiveName: "workspace" }]);
  const entries = [...walk.entries()];
  // After the walk: docs becomes a link to a folder holding a file of the same name and size.
  await fsp.rename(path.join(real, "docs"), path.join(real, "docs.away"));
  await fsp.symlink(path.join(dir, "outside"), path.join(real, "docs"));
  await fsp.writeFile(path.join(dir, "outside", "a.txt"), "outs"); // the size the walk saw
  await fsp.writeFile(path.join(real, "docs.away", "a.txt"), "mine");
  const warnings: string[] = [];
  const got = await contents({ ...walk, entries: () => entries }, (m) => warnings.push(m));
  assert.equal(got.get("workspace/ok.txt"), "ok", warnings.join(" | "));
  assert.ok(!got.has("workspace/docs/a.txt") || got.get("workspace/docs/a.txt") === "mine", `read through the link: ${got.get("workspace/docs/a.txt")}`);
  assert.ok(warnings.some((w) => w.includes("docs/a.txt") && /symlink/.test(w)), warnings.join(" | "));
});
