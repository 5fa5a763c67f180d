/**
 * Writes, renames and deletes that span `await`s (workspace downloads, the local provider's large
 * writes, deletions, conflict copies) go through their folder as it was checked, held open
 * (`HeldFolder`): a folder swapped for a symlink meanwhile is never written, renamed or deleted
 * through, and one moved since is refused before anything gets its name there.
 */
import assert from "node:assert/strict";
import fs, { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createLocalProvider } from "../src/providers/local/index.js";
import { downloadFile } from "../src/sync/transfer.js";
import { WorkspaceFs } from "../src/util/safe-fs.js";

let tmp: string;
let outside: string;
let ws: string;
let cloud: string;
beforeEach(async () => {
  tmp = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-held-")));
  outside = path.join(tmp, "outside");
  ws = path.join(tmp, "ws");
  cloud = path.join(tmp, "cloud");
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, "keep.txt"), "outside");
  await fsp.mkdir(path.join(ws, "d"), { recursive: true });
  await fsp.mkdir(path.join(cloud, "share"), { recursive: true });
  await fsp.writeFile(path.join(cloud, "share", "new.txt"), "cloud data");
});
afterEach(() => fsp.rm(tmp, { recursive: true, force: true }));

/** `outside` as it is: its entries and its time (a file made and removed there changes the time). */
const outsideNow = async (): Promise<[string[], bigint]> => [(await fsp.readdir(outside)).sort(), (await fsp.stat(outside, { bigint: true })).mtimeNs];

/** Moves `dir` to `<dir>-moved` (still in the tree) and puts a symlink to `outside` at its name. */
function swapForLink(dir: string): void {
  fs.renameSync(dir, `${dir}-moved`);
  fs.symlinkSync(outside, dir);
}

/** The local provider of `cloud`, whose reads give "cloud data" from a stream that runs `atFirstRead` when first read. */
function readRunning(atFirstRead: () => void): ReturnType<typeof createLocalProvider> {
  const inner = createLocalProvider({ root: cloud });
  return {
    ...inner,
    async read() {
      return Readable.from(
        (async function* () {
          atFirstRead();
          yield Buffer.from("cloud data");
        })(),
      );
    },
  } as unknown as typeof inner;
}

const refused = (err: Error & { code?: string }): boolean => err.code === "INVALID_PATH" && /symlink|moved/.test(err.message);

describe("a workspace download whose folder is swapped for a symlink", () => {
  it("after the folder's check, before the temp file exists: refused, and nothing is made outside, not even for a moment", async () => {
    const inner = createLocalProvider({ root: cloud });
    const provider = {
      ...inner,
      async read(key: string, o?: Parameters<typeof inner.read>[1]) {
        swapForLink(path.join(ws, "d"));
        return inner.read(key, o);
      },
    } as typeof inner;
    const wfs = await WorkspaceFs.open(ws);
    const before = await outsideNow();
    await assert.rejects(downloadFile(provider, "share/new.txt", wfs, "0123456789abcdef", "d/new.txt"), refused);
    assert.deepEqual(await outsideNow(), before);
    assert.deepEqual(await fsp.readdir(path.join(ws, "d-moved")), [], "no temp file left where the folder went");
  });

  it("while the data streams in: refused at the rename, nothing outside, no temp file left where the folder went", async () => {
    const provider = readRunning(() => swapForLink(path.join(ws, "d")));
    const wfs = await WorkspaceFs.open(ws);
    const before = await outsideNow();
    await assert.rejects(downloadFile(provider, "share/new.txt", wfs, "0123456789abcdef", "d/new.txt"), refused);
    assert.deepEqual(await outsideNow(), before);
    assert.deepEqual(await fsp.readdir(path.join(ws, "d-moved")), []);
  });

  it("unswapped, the download lands with the cloud time, and a numbered name when the name is taken", async () => {
    const inner = createLocalProvider({ root: cloud });
    const wfs = await WorkspaceFs.open(ws);
    await fsp.writeFile(path.join(ws, "d", "new.txt"), "mine");
    const ns = 1_700_000_000_123_456_789n;
    const got = await downloadFile(inner, "share/new.txt", wfs, "0123456789abcdef", "d/new.txt", { noClobber: true, mtimeNs: ns });
    assert.equal(got.finalRel, "d/new (1).txt");
    assert.equal(await fsp.readFile(path.join(ws, "d", "new (1).txt"), "utf8"), "cloud data");
    assert.equal(await fsp.readFile(path.join(ws, "d", "new.txt"), "utf8"), "mine");
    const st = await fsp.stat(path.join(ws, "d", "new (1).txt"), { bigint: true });
    assert.equal(got.local.mtimeNs, st.mtimeNs);
    assert.ok(st.mtimeNs - ns < 1000n && ns - st.mtimeNs < 1000n, `${st.mtimeNs} is ${ns}`);
    assert.deepEqual((await fsp.readdir(path.join(ws, "d"))).sort(), ["new (1).txt", "new.txt"], "no temp file left");
  });
});

describe("a workspace download whose folder is moved out of the tree while it streams", () => {
  it("is refused at the rename, and its temp file is removed from where the folder went", async () => {
    const provider = readRunning(() => fs.renameSync(path.join(ws, "d"), path.join(outside, "d")));
    const wfs = await WorkspaceFs.open(ws);
    await assert.rejects(downloadFile(provider, "share/new.txt", wfs, "0123456789abcdef", "d/new.txt"), refused);
    assert.deepEqual(await fsp.readdir(path.join(outside, "d")), [], "the temp file, removed through the folder held");
  });
});

describe("streams that fail or carry strings", () => {
  it("a cloud stream that fails before it is read: the download rejects with its error (no crash), no temp file left", async () => {
    const inner = createLocalProvider({ root: cloud });
    const provider = {
      ...inner,
      async read() {
        const s = new Readable({ read() {} });
        process.nextTick(() => s.destroy(Object.assign(new Error("connection reset"), { code: "ECONNRESET" })));
        return s;
      },
    } as unknown as typeof inner;
    const wfs = await WorkspaceFs.open(ws);
    await assert.rejects(downloadFile(provider, "share/new.txt", wfs, "0123456789abcdef", "d/new.txt"), /connection reset/);
    assert.deepEqual(await fsp.readdir(path.join(ws, "d")), []);
  });

  it("a write whose source fails while its folder is made: rejects (no crash), no temp file left", async () => {
    const provider = createLocalProvider({ root: cloud });
    const source = new Readable({ read() {} });
    const writing = provider.write("share/deep/er/x.bin", source);
    setImmediate(() => source.destroy(new Error("source failed")));
    await assert.rejects(writing, /source failed/);
    assert.deepEqual(await fsp.readdir(path.join(cloud, "share", "deep", "er")).catch(() => []), []);
  });

  it("string chunks are written in order, as bytes", async () => {
    const provider = createLocalProvider({ root: cloud });
    await provider.write("share/s.txt", Readable.from(["hello ", "wörld"]));
    assert.equal(await fsp.readFile(path.join(cloud, "share", "s.txt"), "utf8"), "hello wörld");
  });
});

describe("a large write into the local provider whose folder is swapped for a symlink while it streams", () => {
  it("is refused; nothing is made outside, and no temp file is left where the folder went", async () => {
    const provider = createLocalProvider({ root: cloud });
    const before = await outsideNow();
    const big = Buffer.alloc(512 * 1024, 7);
    const source = Readable.from(
      (async function* () {
        swapForLink(path.join(cloud, "share"));
        yield big;
      })(),
    );
    await assert.rejects(provider.write("share/big.bin", source), refused);
    assert.deepEqual(await outsideNow(), before);
    assert.deepEqual(await fsp.readdir(path.join(cloud, "share-moved")), ["new.txt"]);
  });
});

describe("a deletion whose folder changes after it is held", () => {
  it("swapped for a symlink to a folder with a file of that name: refused, and neither file is deleted", async () => {
    const file = path.join(ws, "d", "x.txt");
    await fsp.writeFile(file, "same");
    await fsp.writeFile(path.join(outside, "x.txt"), "same");
    const st = await fsp.stat(file);
    await fsp.utimes(path.join(outside, "x.txt"), st.atime, st.mtime);
    const wfs = await WorkspaceFs.open(ws);
    const expect = { size: st.size, mtimeMs: Math.trunc(st.mtimeMs) };
    await assert.rejects(
      wfs.inFolder("d", async (folder) => {
        swapForLink(path.join(ws, "d"));
        return folder.unlinkFile("x.txt", "d/x.txt", expect);
      }),
      refused,
    );
    assert.equal(await fsp.readFile(path.join(outside, "x.txt"), "utf8"), "same");
    assert.equal(await fsp.readFile(path.join(ws, "d-moved", "x.txt"), "utf8"), "same");
    // Unswapped, it is deleted (and a changed file is not).
    await fsp.rm(path.join(ws, "d"));
    await fsp.rename(path.join(ws, "d-moved"), path.join(ws, "d"));
    assert.equal(await wfs.unlinkFile("d/x.txt", { ...expect, size: expect.size + 1 }), "changed");
    assert.equal(await wfs.unlinkFile("d/x.txt", expect), "deleted");
    assert.equal(await wfs.unlinkFile("d/x.txt", expect), "gone");
    assert.equal(await wfs.unlinkFile("nowhere/x.txt", expect), "gone");
  });
});

describe("a conflict copy in the workspace", () => {
  it("gets its time on its own descriptor; a symlink at its name is never followed or replaced", async () => {
    await fsp.writeFile(path.join(ws, "d", "a.txt"), "mine");
    const wfs = await WorkspaceFs.open(ws);
    const ns = 1_600_000_000_987_654_321n;
    const st = await wfs.copyFileExcl("d/a.txt", "d/a.conflict.txt", ns);
    assert.equal(await fsp.readFile(path.join(ws, "d", "a.conflict.txt"), "utf8"), "mine");
    assert.equal(st.mtimeNs, (await fsp.stat(path.join(ws, "d", "a.conflict.txt"), { bigint: true })).mtimeNs);
    assert.ok(st.mtimeNs - ns < 1000n && ns - st.mtimeNs < 1000n);
    await fsp.symlink(path.join(outside, "keep.txt"), path.join(ws, "d", "b.conflict.txt"));
    const before = await fsp.stat(path.join(outside, "keep.txt"), { bigint: true });
    await assert.rejects(wfs.copyFileExcl("d/a.txt", "d/b.conflict.txt", ns), (err: NodeJS.ErrnoException) => err.code === "EEXIST");
    const after = await fsp.stat(path.join(outside, "keep.txt"), { bigint: true });
    assert.equal(after.mtimeNs, before.mtimeNs);
    assert.equal(await fsp.readFile(path.join(outside, "keep.txt"), "utf8"), "outside");
  });
});

describe("a new file downloaded where the workspace has something of its name", () => {
  it("is refused with the reason that fits: a file, or a folder; nothing there is changed", async () => {
    const provider = createLocalProvider({ root: cloud });
    const wfs = await WorkspaceFs.open(ws);
    await fsp.writeFile(path.join(ws, "d", "new.txt"), "workspace file");
    await assert.rejects(downloadFile(provider, "share/new.txt", wfs, "0123456789abcdef", "d/new.txt", { exclusive: true }), (err: Error & { code?: string }) => err.code === "INVALID_PATH" && /already has a file of this name/.test(err.message));
    await fsp.rm(path.join(ws, "d", "new.txt"));
    await fsp.mkdir(path.join(ws, "d", "new.txt"));
    await fsp.writeFile(path.join(ws, "d", "new.txt", "inside.txt"), "inside");
    await assert.rejects(downloadFile(provider, "share/new.txt", wfs, "0123456789abcdef", "d/new.txt", { exclusive: true }), (err: Error & { code?: string }) => err.code === "INVALID_PATH" && /a folder .* has this file's name/.test(err.message));
    assert.deepEqual(await fsp.readdir(path.join(ws, "d")), ["new.txt"], "no temp file left");
    assert.deepEqual(await fsp.readdir(path.join(ws, "d", "new.txt")), ["inside.txt"]);
    await provider.close?.();
  });
});
