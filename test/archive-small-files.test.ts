/**
 * Small files are created on a worker thread, in batches (src/archive/small-file-writer.ts). What
 * depends on a queued file being on disk must still see it: a later entry replacing it, a hard
 * link to it, a read-only folder around it, and a failure must stop all writing before the
 * extraction settles.
 */
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { extractArchive } from "../src/archive/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { type RawEntry, bufferStream, makeTarGz, mkTmp, rmTmp } from "./archive-helpers.js";

const OLD = new Date("2020-01-02T03:04:05Z");

describe("small files written off the main thread", () => {
  let tmp = "";
  before(async () => {
    tmp = await mkTmp("ws-small-files-");
  });
  after(async () => {
    await rmTmp(tmp);
  });

  it("keeps archive order: replacements, hard links, symlinks over queued files, read-only folders", async () => {
    const entries: RawEntry[] = [{ header: { name: "ro", type: "directory", mode: 0o555, mtime: OLD } }];
    // Enough files for several batches (a batch is 128 files or 256 KiB), after the first 256,
    // which the extractor writes itself before it starts its thread: f650–f699 are still in a
    // batch not yet sent when the entries below refer to them.
    for (let i = 0; i < 700; i++) entries.push({ header: { name: `ro/f${i}.txt`, mode: 0o640, mtime: OLD }, content: `file ${i}\n`.repeat(i % 50) });
    entries.push({ header: { name: "ro/f650.txt", mode: 0o600, mtime: OLD }, content: "replaced" });
    entries.push({ header: { name: "ro/link-to-f657", type: "link", linkname: "ro/f657.txt" } });
    entries.push({ header: { name: "ro/f659.txt", type: "symlink", linkname: "f658.txt" } });
    entries.push({ header: { name: "ro/big.bin", mode: 0o644, mtime: OLD }, content: Buffer.alloc(300 * 1024, 7) });
    for (let i = 700; i < 800; i++) entries.push({ header: { name: `ro/f${i}.txt`, mode: 0o644, mtime: OLD }, content: `late ${i}` });
    const out = path.join(tmp, "order");
    const r = await extractArchive(bufferStream(await makeTarGz(entries)), out);
    assert.equal(r.files, 802);
    assert.equal(r.hardLinks, 1);
    assert.equal(r.symlinks, 1);
    assert.equal(await fs.readFile(path.join(out, "ro/f650.txt"), "utf8"), "replaced");
    assert.equal((await fs.stat(path.join(out, "ro/f650.txt"))).mode & 0o777, 0o600);
    const [a, b] = await Promise.all([fs.stat(path.join(out, "ro/f657.txt")), fs.stat(path.join(out, "ro/link-to-f657"))]);
    assert.equal(a.ino, b.ino);
    assert.equal(await fs.readlink(path.join(out, "ro/f659.txt")), "f658.txt");
    for (const i of [0, 1, 49, 128, 699]) {
      const p = path.join(out, `ro/f${i}.txt`);
      assert.equal(await fs.readFile(p, "utf8"), `file ${i}\n`.repeat(i % 50));
      const st = await fs.stat(p);
      assert.equal(st.mode & 0o777, 0o640);
      assert.equal(st.mtimeMs, OLD.getTime());
    }
    assert.equal(await fs.readFile(path.join(out, "ro/f799.txt"), "utf8"), "late 799");
    const dir = await fs.stat(path.join(out, "ro"));
    assert.equal(dir.mode & 0o777, 0o555, "the folder's mode is set after its files were written");
    assert.equal(dir.mtimeMs, OLD.getTime(), "and its mtime too");
    await fs.chmod(path.join(out, "ro"), 0o755);
  });

  it("many files near the size limit: every byte, mode and time lands, whichever thread wrote the file", async () => {
    // 48 × 200 KiB is far more than the thread may have queued (1 MiB): the main thread writes
    // files too while it is busy.
    const entries: RawEntry[] = [];
    const body = (i: number): Buffer => Buffer.from(`${i}:`.repeat(200 * 1024).slice(0, 200 * 1024 - i));
    for (let i = 0; i < 48; i++) entries.push({ header: { name: `d/f${i}`, mode: i % 2 ? 0o600 : 0o644, mtime: new Date(OLD.getTime() + i * 1000) }, content: body(i) });
    const out = path.join(tmp, "big-small");
    const r = await extractArchive(bufferStream(await makeTarGz(entries)), out);
    assert.equal(r.files, 48);
    for (let i = 0; i < 48; i++) {
      const p = path.join(out, `d/f${i}`);
      assert.ok((await fs.readFile(p)).equals(body(i)), `content of f${i}`);
      const st = await fs.stat(p);
      assert.equal(st.mode & 0o777, i % 2 ? 0o600 : 0o644);
      assert.equal(st.mtimeMs, OLD.getTime() + i * 1000);
    }
  });

  it("a file that cannot be created fails the extraction, and nothing is written after it settles", async () => {
    // A name component longer than the filesystem allows passes every check of the extractor and
    // fails only at open(2), on the thread: ENAMETOOLONG.
    const entries: RawEntry[] = [];
    for (let i = 0; i < 300; i++) entries.push({ header: { name: `a/f${i}` }, content: "x".repeat(1000) });
    entries.push({ header: { name: `a/${"n".repeat(300)}` }, content: "too long" });
    for (let i = 0; i < 2000; i++) entries.push({ header: { name: `b/f${i}` }, content: "y".repeat(1000) });
    const out = path.join(tmp, "fail");
    const err = await extractArchive(bufferStream(await makeTarGz(entries)), out).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isWorkspaceSyncError(err), String(err));
    assert.match(err.message, /ENAMETOOLONG|name too long/i);
    const count = async (): Promise<number> => (await fs.readdir(path.join(out, "b")).catch(() => [])).length;
    const settled = await count();
    assert.ok(settled < 2000, `the extraction stopped at the failure (${settled} of 2000 later files)`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await count(), settled, "no file is created after the extraction settled");
    assert.equal((await fs.readdir(path.join(out, "a"))).length, 300);
  });
});
