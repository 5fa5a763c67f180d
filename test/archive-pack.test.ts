import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import zlib from "node:zlib";
import { createArchiveStream, gzipBytesUpperBound, parallelGzip, walkIncludeSet, walkSources, type WalkResult } from "../src/archive/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { gnuList, mkTmp, packToFile, rmTmp, run, snapshotTree, treeObject, suiteTmp } from "./archive-helpers.js";

const LONG_DIR = ["long", ...Array.from({ length: 5 }, (_, i) => `${String(i)}${"d".repeat(49)}`)].join("/");
const LONG_FILE = `${LONG_DIR}/${"f".repeat(40)}.txt`;
const UNICODE = "ünïcødé-日本語 😀.md";
const NEWLINE = "new\nline.txt";
const OLD = new Date("2021-03-04T05:06:07Z");

/** A workspace with every kind of entry the pack must handle, plus a state dir. */
async function makeFixture(root: string): Promise<{ ws: string; state: string }> {
  const ws = path.join(root, "workspace");
  const state = path.join(root, "state");
  await fs.mkdir(path.join(ws, "empty-dir"), { recursive: true });
  await fs.mkdir(path.join(ws, "nested/deep/er"), { recursive: true });
  await fs.mkdir(path.join(ws, "memory"), { recursive: true });
  await fs.mkdir(path.join(ws, ".git"), { recursive: true });
  await fs.mkdir(path.join(ws, LONG_DIR), { recursive: true });
  await fs.mkdir(path.join(state, "cron"), { recursive: true });
  await fs.writeFile(path.join(ws, "a.txt"), "hello\n");
  await fs.writeFile(path.join(ws, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  await fs.chmod(path.join(ws, "run.sh"), 0o755);
  await fs.writeFile(path.join(ws, "secret"), "s3cr3t");
  await fs.chmod(path.join(ws, "secret"), 0o600);
  await fs.writeFile(path.join(ws, "nested/deep/er/file.md"), "# deep\n".repeat(1000));
  await fs.writeFile(path.join(ws, "big.bin"), randomBytes(700 * 1024));
  await fs.writeFile(path.join(ws, LONG_FILE), "long path content");
  await fs.writeFile(path.join(ws, UNICODE), "unicode ✓");
  await fs.writeFile(path.join(ws, NEWLINE), "newline in name");
  await fs.writeFile(path.join(ws, "memory/MEMORY.md"), "remember this");
  await fs.writeFile(path.join(ws, ".git/HEAD"), "ref: refs/heads/main\n");
  await fs.symlink("a.txt", path.join(ws, "link"));
  await fs.symlink("nested/deep", path.join(ws, "dirlink"));
  await fs.symlink("../../outside/nowhere", path.join(ws, "nested/dangling"));
  await fs.writeFile(path.join(state, "openclaw.json"), '{"a":1}');
  await fs.writeFile(path.join(state, "cron/jobs.json"), "[]");
  for (const p of ["a.txt", "secret", "nested/deep/er/file.md", UNICODE, LONG_FILE, "nested/deep/er", "empty-dir"]) {
    await fs.utimes(path.join(ws, p), OLD, OLD);
  }
  return { ws, state };
}

describe("pack", () => {
  let tmp: string;
  let ws: string;
  let state: string;
  let walk: WalkResult;
  let archive: string;
  let warnings: string[];

  before(async () => {
    tmp = await mkTmp();
    ({ ws, state } = await makeFixture(tmp));
    walk = await walkIncludeSet({ workspaceDir: ws, stateDir: state });
    archive = path.join(tmp, "x.tar.gz");
    warnings = await packToFile(walk, archive);
  });
  after(() => rmTmp(tmp));

  it("walks items in include order with folders before their contents and default excludes applied", () => {
    const names = [...walk.entries()].map((e) => e.name);
    assert.equal(names[0], "workspace");
    assert.ok(names.indexOf("workspace/nested") < names.indexOf("workspace/nested/deep/er/file.md"));
    assert.ok(names.indexOf("workspace/nested/deep/er/file.md") < names.indexOf("openclaw.json"));
    assert.ok(names.indexOf("openclaw.json") < names.indexOf("cron/jobs.json"));
    assert.ok(names.indexOf("cron/jobs.json") < names.indexOf("memory/MEMORY.md"));
    assert.ok(!names.some((n) => n.includes(".git")), ".git is excluded by default");
    assert.deepEqual(walk.missing, []);
    assert.deepEqual(warnings, []);
  });

  it("stores content reachable through two items once, as a hard link", () => {
    const link = [...walk.entries()].find((e) => e.name === "memory/MEMORY.md");
    assert.equal(link?.type, "link");
    assert.equal(link?.type === "link" ? link.linkname : "", "workspace/memory/MEMORY.md");
    const listing = gnuList(archive, true);
    assert.equal(listing.status, 0, listing.stderr);
    assert.match(listing.stdout, /memory\/MEMORY\.md link to workspace\/memory\/MEMORY\.md/);
  });

  it("is read by GNU tar: same content, modes, mtimes and link targets", async () => {
    const out = path.join(tmp, "gnu-out");
    await fs.mkdir(out);
    const r = run("tar", ["-xpzf", archive, "-C", out]);
    assert.equal(r.status, 0, r.stderr);
    const expected = await snapshotTree(ws);
    for (const k of [...expected.keys()]) if (k === ".git" || k.startsWith(".git/")) expected.delete(k);
    assert.deepEqual(treeObject(await snapshotTree(path.join(out, "workspace"))), treeObject(expected));
    assert.equal(await fs.readFile(path.join(out, "openclaw.json"), "utf8"), '{"a":1}');
    assert.equal(await fs.readFile(path.join(out, "cron/jobs.json"), "utf8"), "[]");
    const a = await fs.stat(path.join(out, "memory/MEMORY.md"));
    const b = await fs.stat(path.join(out, "workspace/memory/MEMORY.md"));
    assert.equal(a.ino, b.ino, "memory/MEMORY.md is a hard link to workspace/memory/MEMORY.md");
    assert.equal((await fs.stat(path.join(out, "workspace/run.sh"))).mode & 0o777, 0o755);
    assert.equal((await fs.stat(path.join(out, "workspace/secret"))).mode & 0o777, 0o600);
    assert.equal(await fs.readFile(path.join(out, "workspace", LONG_FILE), "utf8"), "long path content");
    assert.ok(Buffer.byteLength(`workspace/${LONG_FILE}`) >= 300);
    assert.equal(await fs.readFile(path.join(out, "workspace", NEWLINE), "utf8"), "newline in name");
    assert.equal(await fs.readlink(path.join(out, "workspace/nested/dangling")), "../../outside/nowhere");
  });

  it("stays within the walk's tar size upper bound and totals", async () => {
    const tarBytes = zlib.gunzipSync(await fs.readFile(archive)).length;
    assert.ok(tarBytes <= walk.tarBytesUpperBound, `${tarBytes} <= ${walk.tarBytesUpperBound}`);
    const files = [...walk.entries()].filter((e) => e.type === "file");
    assert.equal(walk.fileCount, files.length);
    assert.equal(walk.totalBytes, files.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0));
  });

  it("reports progress up to the walk's totals", async () => {
    const reports: { bytes: number; files?: number }[] = [];
    await packToFile(walk, path.join(tmp, "progress.tar.gz"), { onProgress: (p) => reports.push({ bytes: p.bytes, files: p.files }) });
    assert.ok(reports.length >= 1);
    assert.deepEqual(reports.at(-1), { bytes: walk.totalBytes, files: walk.fileCount });
    for (let i = 1; i < reports.length; i++) assert.ok((reports[i]?.bytes ?? 0) >= (reports[i - 1]?.bytes ?? 0));
  });

  it("applies excludes with GNU semantics", async () => {
    await fs.mkdir(path.join(ws, "proj/node_modules/pkg"), { recursive: true });
    await fs.mkdir(path.join(ws, "proj/cache/tmp"), { recursive: true });
    await fs.writeFile(path.join(ws, "proj/node_modules/pkg/index.js"), "x");
    await fs.writeFile(path.join(ws, "proj/cache/tmp/t"), "x");
    await fs.writeFile(path.join(ws, "proj/cache/keep"), "x");
    await fs.writeFile(path.join(ws, "proj/app.log"), "x");
    await fs.writeFile(path.join(ws, "proj/.DS_Store"), "x");
    try {
      const w = await walkIncludeSet({
        workspaceDir: ws,
        stateDir: state,
        include: ["workspace"],
        exclude: ["**/node_modules/**", "*.log", "cache/tmp", "**/.DS_Store"],
      });
      const names = [...w.entries()].map((e) => e.name).filter((n) => n.startsWith("workspace/proj"));
      assert.deepEqual(names, ["workspace/proj", "workspace/proj/cache", "workspace/proj/cache/keep"]);
      assert.ok([...w.entries()].some((e) => e.name === "workspace/.git/HEAD"), "a user exclude replaces the defaults");
    } finally {
      await fs.rm(path.join(ws, "proj"), { recursive: true });
    }
  });

  it("reports NO_BACKUP_SOURCES when no item exists, and skips missing items otherwise", async () => {
    await assert.rejects(
      walkIncludeSet({ workspaceDir: path.join(tmp, "nope"), stateDir: path.join(tmp, "nope2") }),
      (err: unknown) => isWorkspaceSyncError(err, "NO_BACKUP_SOURCES") && /none of workspace, config, cron, memory exist/.test(err.message),
    );
    const w = await walkIncludeSet({ workspaceDir: ws, stateDir: state, include: ["config", "sessions", "env"] });
    assert.deepEqual(w.sources.map((s) => s.item), ["config"]);
    assert.deepEqual(w.missing.map((s) => s.item), ["sessions", "env"]);
  });

  it("skips fifos with a warning and never opens them", async () => {
    const dir = path.join(tmp, "special");
    await fs.mkdir(dir);
    assert.equal(run("mkfifo", [path.join(dir, "pipe")]).status, 0);
    await fs.writeFile(path.join(dir, "plain.txt"), "x");
    const warned: string[] = [];
    const w = await walkSources([{ item: "workspace", path: dir, archiveName: "special" }], { onWarning: (m) => warned.push(m) });
    assert.deepEqual([...w.entries()].map((e) => e.name), ["special", "special/plain.txt"]);
    assert.match(warned.join("\n"), /special\/pipe: not a regular file, folder or symlink/);
  });

  it("follows a symlinked item root but never a symlink below it", async () => {
    const alias = path.join(tmp, "ws-alias");
    await fs.symlink(ws, alias);
    const w = await walkIncludeSet({ workspaceDir: alias, stateDir: state, include: ["workspace"] });
    const root = [...w.entries()][0];
    assert.equal(root?.type, "directory");
    assert.equal([...w.entries()].find((e) => e.name === "ws-alias/dirlink")?.type, "symlink");
    assert.ok(![...w.entries()].some((e) => e.name.startsWith("ws-alias/dirlink/")));
  });
});

describe("pack: files changing while read", () => {
  const tmp = suiteTmp();

  it("stores exactly the listed size when a file shrinks or grows while read, with a warning", async () => {
    const ws = path.join(tmp(), "workspace");
    await fs.mkdir(ws);
    const bigShrink = randomBytes(600 * 1024);
    const bigGrow = randomBytes(500 * 1024);
    await fs.writeFile(path.join(ws, "big-shrink"), bigShrink);
    await fs.writeFile(path.join(ws, "big-grow"), bigGrow);
    await fs.writeFile(path.join(ws, "small-shrink"), "0123456789");
    await fs.writeFile(path.join(ws, "small-grow"), "abc");
    await fs.writeFile(path.join(ws, "vanishes"), "gone soon");
    await fs.writeFile(path.join(ws, "z-after"), "still here");
    const counted = await walkSources([{ item: "workspace", path: ws, archiveName: "workspace" }]);
    // The entries as listed just before each file is read: the files then change under the reader.
    const listed = [...counted.entries()];
    const walk: WalkResult = { ...counted, entries: () => listed };
    await fs.truncate(path.join(ws, "big-shrink"), 1000);
    await fs.appendFile(path.join(ws, "big-grow"), "more data");
    await fs.truncate(path.join(ws, "small-shrink"), 4);
    await fs.appendFile(path.join(ws, "small-grow"), "defgh");
    await fs.rm(path.join(ws, "vanishes"));

    const archive = path.join(tmp(), "changed.tar.gz");
    const warnings = await packToFile(walk, archive);
    assert.equal(warnings.filter((w) => /shrank while it was read/.test(w)).length, 2, warnings.join("\n"));
    assert.equal(warnings.filter((w) => /grew while it was read/.test(w)).length, 2, warnings.join("\n"));
    assert.equal(warnings.filter((w) => /vanishes: removed before it was read/.test(w)).length, 1, warnings.join("\n"));

    assert.equal(run("gunzip", ["-t", archive]).status, 0);
    const out = path.join(tmp(), "out");
    await fs.mkdir(out);
    const r = run("tar", ["-xzf", archive, "-C", out]);
    assert.equal(r.status, 0, r.stderr);
    const shrunk = await fs.readFile(path.join(out, "workspace/big-shrink"));
    assert.equal(shrunk.length, bigShrink.length);
    assert.deepEqual(shrunk.subarray(0, 1000), bigShrink.subarray(0, 1000));
    assert.ok(shrunk.subarray(1000).every((b) => b === 0), "padded with zeros");
    assert.deepEqual(await fs.readFile(path.join(out, "workspace/big-grow")), bigGrow);
    assert.equal(await fs.readFile(path.join(out, "workspace/small-shrink"), "utf8"), "0123\0\0\0\0\0\0");
    assert.equal(await fs.readFile(path.join(out, "workspace/small-grow"), "utf8"), "abc");
    assert.equal(await fs.readFile(path.join(out, "workspace/z-after"), "utf8"), "still here");
    await assert.rejects(fs.stat(path.join(out, "workspace/vanishes")));
  });
});

describe("walk: counting pass, then a lazy pass while packing", () => {
  const tmp = suiteTmp();

  it("writes the tree as it is when packed, while the totals stay those counted", async () => {
    const ws = path.join(tmp(), "workspace");
    await fs.mkdir(path.join(ws, "sub"), { recursive: true });
    await fs.writeFile(path.join(ws, "a.txt"), "aaaa");
    await fs.writeFile(path.join(ws, "sub/b.txt"), "bb");
    const walk = await walkSources([{ item: "workspace", path: ws, archiveName: "workspace" }]);
    assert.equal(walk.fileCount, 2);
    assert.equal(walk.totalBytes, 6);
    await fs.writeFile(path.join(ws, "sub/c.txt"), "added after counting");
    await fs.rm(path.join(ws, "a.txt"));

    const archive = path.join(tmp(), "later.tar.gz");
    const warnings = await packToFile(walk, archive);
    assert.deepEqual(warnings, [], "a file gone before its folder is listed again is simply not there");
    const list = gnuList(archive);
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual(list.stdout.split("\n").filter(Boolean), ["workspace", "workspace/sub", "workspace/sub/b.txt", "workspace/sub/c.txt"]);
    assert.equal(walk.fileCount, 2, "totals are the counting pass's");
  });

  it("reports a warning of the counting pass once, and a new one from the packing pass", async () => {
    const dir = path.join(tmp(), "warned");
    await fs.mkdir(dir);
    assert.equal(run("mkfifo", [path.join(dir, "pipe")]).status, 0);
    const counted: string[] = [];
    const walk = await walkSources([{ item: "workspace", path: dir, archiveName: "warned" }], { onWarning: (m) => counted.push(m) });
    assert.equal(counted.length, 1);
    assert.match(counted[0] ?? "", /warned\/pipe: not a regular file/);
    assert.equal(run("mkfifo", [path.join(dir, "pipe2")]).status, 0);
    const packed = await packToFile(walk, path.join(tmp(), "warned.tar.gz"));
    assert.equal(packed.length, 1, packed.join("\n"));
    assert.match(packed[0] ?? "", /warned\/pipe2: not a regular file/);
  });
});

describe("pack: parallel gzip", () => {
  const tmp = suiteTmp();

  it("writes independent gzip members that gunzip -t and tar -tzf read", async () => {
    const ws = path.join(tmp(), "workspace");
    await fs.mkdir(ws);
    const text = Array.from({ length: 30000 }, (_, i) => `line ${i}: the quick brown fox ${i % 97}\n`).join("");
    await fs.writeFile(path.join(ws, "text.txt"), text);
    await fs.writeFile(path.join(ws, "random.bin"), randomBytes(1024 * 1024));
    for (let i = 0; i < 50; i++) await fs.writeFile(path.join(ws, `f${i}.md`), `file ${i}\n`.repeat(i * 10));
    const walk = await walkSources([{ item: "workspace", path: ws, archiveName: "workspace" }]);
    const archive = path.join(tmp(), "multi.tar.gz");
    await packToFile(walk, archive, { blockSize: 64 * 1024, concurrency: 3 });
    const gz = await fs.readFile(archive);

    let members = 0;
    for (let i = gz.indexOf(Buffer.from([0x1f, 0x8b, 0x08])); i !== -1; i = gz.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), i + 1)) members++;
    assert.ok(members >= 20, `expected many gzip members, found ${members}`);
    assert.equal(run("gunzip", ["-t", archive]).status, 0);
    const list = gnuList(archive);
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stdout.split("\n").filter(Boolean).length, [...walk.entries()].length);

    const out = path.join(tmp(), "out");
    await fs.mkdir(out);
    assert.equal(run("tar", ["-xzf", archive, "-C", out]).status, 0);
    assert.deepEqual(treeObject(await snapshotTree(path.join(out, "workspace"))), treeObject(await snapshotTree(ws)));
    // Random data is stored, not inflated; the text compresses.
    assert.ok(gz.length < 1024 * 1024 * 1.02 + text.length / 2, `archive is ${gz.length} bytes`);
  });

  it("emits blocks in order and the concatenation is the input", async () => {
    const input = Buffer.concat([randomBytes(300 * 1024), Buffer.alloc(300 * 1024, 7), Buffer.from("tail")]);
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < input.length; i += 10_000) yield input.subarray(i, i + 10_000);
    }
    const out: Buffer[] = [];
    for await (const b of parallelGzip(chunks(), { blockSize: 64 * 1024, concurrency: 4 })) out.push(b);
    assert.ok(out.length >= 9);
    assert.deepEqual(zlib.gunzipSync(Buffer.concat(out)), input);
    const empty: Buffer[] = [];
    for await (const b of parallelGzip((async function* () {})())) empty.push(b);
    assert.equal(zlib.gunzipSync(Buffer.concat(empty)).length, 0, "empty input is one empty member");
  });

  it("never deflates more than `concurrency` blocks at once, even from one chunk of many blocks", async () => {
    const input = Buffer.alloc(4 * 1024 * 1024, "abc");
    // Each member is one Gzip stream ended with its block: count those alive at once.
    const proto = zlib.Gzip.prototype as unknown as { end: (...args: unknown[]) => unknown };
    const end = proto.end;
    let live = 0;
    let peak = 0;
    proto.end = function (this: zlib.Gzip, ...args: unknown[]) {
      live++;
      peak = Math.max(peak, live);
      this.once("close", () => live--);
      return end.apply(this, args);
    };
    try {
      const out: Buffer[] = [];
      for await (const b of parallelGzip((async function* () { yield input; })(), { blockSize: 64 * 1024, concurrency: 2, level: 1 })) out.push(b);
      assert.deepEqual(zlib.gunzipSync(Buffer.concat(out)), input);
    } finally {
      delete (proto as { end?: unknown }).end;
    }
    assert.equal(proto.end, end, "the patch is gone");
    assert.ok(peak >= 1 && peak <= 2, `peak members in flight: ${peak}`);
  });

  it("never exceeds gzipBytesUpperBound, even on incompressible data", async () => {
    const input = randomBytes(1024 * 1024 + 123);
    for (const level of [0, 1, 6, 9]) {
      for (const blockSize of [64 * 1024, 2 * 1024 * 1024]) {
        const out: Buffer[] = [];
        for await (const b of parallelGzip((async function* () { yield input; })(), { level, blockSize, adaptive: false })) out.push(b);
        const size = out.reduce((n, b) => n + b.length, 0);
        assert.ok(size <= gzipBytesUpperBound(input.length, blockSize), `level ${level} block ${blockSize}: ${size}`);
      }
    }
  });

  it("writes a size over 8 GiB in a header GNU tar reads", async () => {
    const ws = path.join(tmp(), "huge");
    await fs.mkdir(ws);
    const size = 8 * 1024 ** 3 + 1;
    const fh = await fs.open(path.join(ws, "sparse.img"), "w");
    await fh.truncate(size); // sparse: nothing is written
    await fh.close();
    const walk = await walkSources([{ item: "workspace", path: ws, archiveName: "huge" }]);
    assert.equal(walk.totalBytes, size);
    assert.ok(walk.tarBytesUpperBound > size);
    // Only the start of the first member is needed to read the header.
    const stream = createArchiveStream(walk, { blockSize: 64 * 1024, level: 1 });
    const head: Buffer[] = [];
    const partial = () => zlib.gunzipSync(Buffer.concat(head), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    for await (const c of stream as AsyncIterable<Buffer>) {
      head.push(c);
      if (partial().length >= 1024) break;
    }
    stream.destroy();
    const tarHead = partial().subarray(0, 1024);
    const r = run("tar", ["-tvf", "-"], { input: tarHead });
    assert.match(r.stdout, /8589934593 .*huge\/sparse\.img/);
  });

  it("fails with ABORTED when the signal fires", async () => {
    const ws = path.join(tmp(), "workspace");
    const walk = await walkSources([{ item: "workspace", path: ws, archiveName: "workspace" }]);
    const ac = new AbortController();
    const stream = createArchiveStream(walk, { signal: ac.signal, blockSize: 64 * 1024 });
    ac.abort();
    await assert.rejects(
      (async () => {
        for await (const _ of stream) {
          // drain
        }
      })(),
      (err: unknown) => isWorkspaceSyncError(err, "ABORTED"),
    );
  });
});

describe("pack: options", () => {
  it("rejects an invalid compression level with CONFIG_INVALID", () => {
    const walk: WalkResult = { entries: () => [], sources: [], missing: [], totalBytes: 0, fileCount: 0, tarBytesUpperBound: 1024, warnings: [] };
    for (const level of [-1, 10, 2.5]) {
      assert.throws(() => createArchiveStream(walk, { level }), (err: unknown) => isWorkspaceSyncError(err, "CONFIG_INVALID"));
    }
  });

  it("packs an empty entry list into a valid empty archive", async () => {
    const walk: WalkResult = { entries: () => [], sources: [], missing: [], totalBytes: 0, fileCount: 0, tarBytesUpperBound: 1024, warnings: [] };
    const chunks: Buffer[] = [];
    for await (const c of createArchiveStream(walk, { level: 0 })) chunks.push(c as Buffer);
    const tarBytes = zlib.gunzipSync(Buffer.concat(chunks));
    assert.equal(tarBytes.length, 1024);
    assert.ok(tarBytes.every((b) => b === 0));
  });
});
