import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import zlib from "node:zlib";
import { checkArchive, extractArchive, type ExtractOptions, walkIncludeSet, walkSources } from "../src/archive/index.js";
import { WorkspaceSyncError, isWorkspaceSyncError } from "../src/errors.js";
import { bufferStream, gnuList, makeTarGz, mkTmp, packToFile, rmTmp, run, snapshotTree, treeObject, suiteTmp } from "./archive-helpers.js";

/** Deterministic incompressible bytes. */
function seeded(n: number, seed = "seed"): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, c = 0; i < n; c++) {
    const h = createHash("sha256").update(`${seed}:${c}`).digest();
    i += h.copy(out, i);
  }
  return out;
}

const OLD = new Date("2020-01-02T03:04:05Z");
const LONG = `${"x".repeat(60)}/${"y".repeat(60)}/${"z".repeat(60)}/${"w".repeat(60)}/${"v".repeat(70)}.txt`;

async function makeTree(ws: string): Promise<void> {
  await fs.mkdir(path.join(ws, "memory"), { recursive: true });
  await fs.mkdir(path.join(ws, "ro-dir"), { recursive: true });
  await fs.mkdir(path.join(ws, "empty"), { recursive: true });
  await fs.mkdir(path.join(ws, path.dirname(LONG)), { recursive: true });
  await fs.writeFile(path.join(ws, "memory/MEMORY.md"), "memories\n".repeat(50));
  await fs.writeFile(path.join(ws, "notes.md"), "notes\n".repeat(20000));
  await fs.writeFile(path.join(ws, "blob.bin"), seeded(300 * 1024));
  await fs.writeFile(path.join(ws, "exec.sh"), "#!/bin/sh\n");
  await fs.chmod(path.join(ws, "exec.sh"), 0o755);
  await fs.writeFile(path.join(ws, "private"), "p");
  await fs.chmod(path.join(ws, "private"), 0o600);
  await fs.writeFile(path.join(ws, "ro-dir/readonly.txt"), "ro");
  await fs.chmod(path.join(ws, "ro-dir/readonly.txt"), 0o444);
  await fs.writeFile(path.join(ws, LONG), "long");
  await fs.writeFile(path.join(ws, "ünï 日本.md"), "uni");
  await fs.writeFile(path.join(ws, "line\nbreak"), "nl");
  await fs.link(path.join(ws, "notes.md"), path.join(ws, "notes-hardlink.md"));
  await fs.symlink("notes.md", path.join(ws, "to-notes"));
  await fs.symlink(`${"../".repeat(0)}${path.dirname(LONG)}`, path.join(ws, "long-symlink-target-" + "q".repeat(120)));
  for (const p of ["notes.md", "blob.bin", "ro-dir/readonly.txt", "ro-dir", "empty", LONG]) await fs.utimes(path.join(ws, p), OLD, OLD);
  await fs.chmod(path.join(ws, "ro-dir"), 0o555);
}

function expectCode(code: string) {
  return (err: unknown): boolean => {
    assert.ok(isWorkspaceSyncError(err), `expected WorkspaceSyncError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe("extract: archives made by GNU tar", () => {
  let tmp: string;
  let root: string;
  before(async () => {
    tmp = await mkTmp();
    root = path.join(tmp, "src");
    await makeTree(path.join(root, "workspace"));
    await fs.mkdir(path.join(root, "sessions"));
    await fs.writeFile(path.join(root, "sessions/s1.jsonl"), '{"a":1}\n');
  });
  after(() => rmTmp(tmp));

  it("restores the plugin's layout with hard-link entries for overlapping items", async () => {
    const archive = path.join(tmp, "plugin.tar.gz");
    const r = run("tar", ["-czf", archive, "-C", root, "workspace", "-C", path.join(root, "workspace"), "memory", "-C", root, "sessions", "sessions"]);
    assert.equal(r.status, 0, r.stderr);
    const listing = gnuList(archive, true).stdout;
    assert.match(listing, /memory\/MEMORY\.md link to workspace\/memory\/MEMORY\.md/);
    assert.match(listing, /sessions\/s1\.jsonl link to sessions\/s1\.jsonl/);

    const out = path.join(tmp, "out-plugin");
    const result = await extractArchive(createReadStream(archive), out);
    assert.ok(result.hardLinks >= 2);
    assert.deepEqual(treeObject(await snapshotTree(path.join(out, "workspace"))), treeObject(await snapshotTree(path.join(root, "workspace"))));
    const a = await fs.stat(path.join(out, "memory/MEMORY.md"));
    const b = await fs.stat(path.join(out, "workspace/memory/MEMORY.md"));
    assert.equal(a.ino, b.ino);
    assert.equal(await fs.readFile(path.join(out, "sessions/s1.jsonl"), "utf8"), '{"a":1}\n');
    const n1 = await fs.stat(path.join(out, "workspace/notes.md"));
    const n2 = await fs.stat(path.join(out, "workspace/notes-hardlink.md"));
    assert.equal(n1.ino, n2.ino, "a genuine hard link stays one");
  });

  for (const format of ["gnu", "pax", "ustar"]) {
    it(`reads ${format} format long names and link targets`, async (t) => {
      const archive = path.join(tmp, `${format}.tar.gz`);
      const r = run("tar", [`--format=${format}`, "-czf", archive, "-C", root, "workspace"]);
      if (format === "ustar") {
        // ustar cannot hold these names: GNU tar refuses them, which is all this case checks.
        assert.notEqual(r.status, 0);
        t.diagnostic("ustar refuses long names, as expected");
        return;
      }
      assert.equal(r.status, 0, r.stderr);
      const out = path.join(tmp, `out-${format}`);
      await extractArchive(createReadStream(archive), out);
      assert.deepEqual(treeObject(await snapshotTree(path.join(out, "workspace"))), treeObject(await snapshotTree(path.join(root, "workspace"))));
    });
  }
});

describe("extract: round trip", () => {
  const tmp = suiteTmp();

  it("pack → extract gives back the same tree, overlapping items as hard links", async () => {
    const ws = path.join(tmp(), "workspace");
    const state = path.join(tmp(), "state");
    await makeTree(ws);
    await fs.mkdir(path.join(state, "sessions"), { recursive: true });
    await fs.writeFile(path.join(state, "sessions/a.jsonl"), "x\n");
    await fs.writeFile(path.join(ws, ".env"), "TOKEN=1\n");
    const walk = await walkIncludeSet({ workspaceDir: ws, stateDir: state, include: ["workspace", "memory", "sessions", "transcripts", "env"] });
    assert.deepEqual(
      [...walk.entries()].filter((e) => e.type === "link").map((e) => e.name).sort(),
      // sessions + transcripts are one folder, stored once; notes-hardlink.md sorts before notes.md.
      [".env", "memory/MEMORY.md", "workspace/notes.md"],
    );
    const archive = path.join(tmp(), "rt.tar.gz");
    await packToFile(walk, archive, { blockSize: 128 * 1024 });
    const out = path.join(tmp(), "new/nested/target");
    const progress: number[] = [];
    const result = await extractArchive(createReadStream(archive), out, { onProgress: (p) => progress.push(p.bytes) });
    assert.equal(result.compressedBytes, (await fs.stat(archive)).size);
    assert.equal(progress.at(-1), result.compressedBytes);
    assert.deepEqual(treeObject(await snapshotTree(path.join(out, "workspace"))), treeObject(await snapshotTree(ws)));
    assert.equal((await fs.stat(path.join(out, "memory/MEMORY.md"))).ino, (await fs.stat(path.join(out, "workspace/memory/MEMORY.md"))).ino);
    assert.equal((await fs.stat(path.join(out, ".env"))).ino, (await fs.stat(path.join(out, "workspace/.env"))).ino);
    assert.equal(await fs.readFile(path.join(out, "sessions/a.jsonl"), "utf8"), "x\n");
    assert.equal((await fs.stat(path.join(out, "workspace/ro-dir"))).mode & 0o777, 0o555);
    assert.equal((await fs.stat(path.join(out, "workspace/ro-dir"))).mtime.getTime(), OLD.getTime());
  });

  it("drops setuid/setgid bits", async () => {
    const gz = await makeTarGz([{ header: { name: "suid", mode: 0o6755, type: "file" }, content: "x" }]);
    const out = path.join(tmp(), "suid-out");
    await extractArchive(bufferStream(gz), out);
    assert.equal((await fs.stat(path.join(out, "suid"))).mode & 0o7777, 0o755);
  });

  it("refuses a target that is not empty, and leaves it untouched", async () => {
    const target = path.join(tmp(), "busy");
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, "keep.txt"), "mine");
    const gz = await makeTarGz([{ header: { name: "keep.txt" }, content: "theirs" }]);
    await assert.rejects(extractArchive(bufferStream(gz), target), expectCode("TARGET_NOT_EMPTY"));
    assert.equal(await fs.readFile(path.join(target, "keep.txt"), "utf8"), "mine");
  });
});

describe("extract: hostile archives", () => {
  let tmp: string;
  let outside: string;
  before(async () => {
    tmp = await mkTmp();
    outside = path.join(tmp, "outside");
    await fs.mkdir(outside);
  });
  after(() => rmTmp(tmp));

  let n = 0;
  async function refuses(entries: Parameters<typeof makeTarGz>[0], nameInMessage: string, options: ExtractOptions = {}): Promise<string> {
    const gz = await makeTarGz(entries);
    const target = path.join(tmp, `t${n++}`);
    await assert.rejects(extractArchive(bufferStream(gz), target, options), (err: unknown) => {
      expectCode("UNSAFE_ARCHIVE_ENTRY")(err);
      assert.ok((err as Error).message.includes(JSON.stringify(nameInMessage)), (err as Error).message);
      return true;
    });
    assert.deepEqual(await fs.readdir(outside), [], "nothing written outside the target");
    return target;
  }

  it("refuses absolute names", async () => {
    await refuses([{ header: { name: path.join(outside, "abs.txt") }, content: "x" }], path.join(outside, "abs.txt"));
  });

  it("refuses '..' components", async () => {
    await refuses([{ header: { name: "../outside/up.txt" }, content: "x" }], "../outside/up.txt");
    await refuses([{ header: { name: "ok/../../outside/up2.txt" }, content: "x" }], "ok/../../outside/up2.txt");
  });

  it("refuses a symlink pointing outside, and never writes through a symlink", async () => {
    const entries = [
      { header: { name: "esc", type: "symlink" as const, linkname: "../outside" } },
      { header: { name: "esc/pwned.txt" }, content: "x" },
    ];
    await refuses(entries, "esc");
    await refuses([{ header: { name: "abs", type: "symlink" as const, linkname: outside } }], "abs");
    // Even when external symlinks are allowed, nothing is written through one.
    const t = await refuses(entries, "esc/pwned.txt", { externalSymlinks: "allow" });
    assert.equal(await fs.readlink(path.join(t, "esc")), "../outside");
    // "skip" leaves the symlink out with a warning and goes on.
    const warnings: string[] = [];
    const skipOut = path.join(tmp, "skip");
    await extractArchive(
      bufferStream(await makeTarGz([...entries.slice(0, 1), { header: { name: "fine.txt" }, content: "ok" }])),
      skipOut,
      { externalSymlinks: "skip", onWarning: (m) => warnings.push(m) },
    );
    assert.deepEqual(await fs.readdir(skipOut), ["fine.txt"]);
    assert.match(warnings.join("\n"), /Skipped symlink "esc"/);
    // An inside symlink to a folder is not a way in either.
    await refuses(
      [
        { header: { name: "d", type: "directory" as const } },
        { header: { name: "alias", type: "symlink" as const, linkname: "d" } },
        { header: { name: "alias/f.txt" }, content: "x" },
      ],
      "alias/f.txt",
    );
    // A later file entry replaces a symlink instead of following it.
    const gz = await makeTarGz([
      { header: { name: "f", type: "symlink" as const, linkname: "g" } },
      { header: { name: "g" }, content: "target" },
      { header: { name: "f" }, content: "replaced" },
    ]);
    const out = path.join(tmp, "replace");
    await extractArchive(bufferStream(gz), out);
    assert.equal(await fs.readFile(path.join(out, "g"), "utf8"), "target");
    assert.equal(await fs.readFile(path.join(out, "f"), "utf8"), "replaced");
  });

  it("refuses hard links to outside paths or to anything not extracted", async () => {
    await refuses([{ header: { name: "passwd", type: "link" as const, linkname: "/etc/passwd" } }], "passwd");
    await refuses([{ header: { name: "up", type: "link" as const, linkname: "../outside/x" } }], "up");
    await refuses([{ header: { name: "ghost", type: "link" as const, linkname: "not-there" } }], "ghost");
    await refuses(
      [
        { header: { name: "d", type: "directory" as const } },
        { header: { name: "dl", type: "link" as const, linkname: "d" } },
      ],
      "dl",
    );
  });

  it("refuses fifos and devices", async () => {
    await refuses([{ header: { name: "pipe", type: "fifo" as const } }], "pipe");
    await refuses([{ header: { name: "null", type: "character-device" as const, devmajor: 1, devminor: 3 } }], "null");
    await refuses([{ header: { name: "sda", type: "block-device" as const, devmajor: 8, devminor: 0 } }], "sda");
  });
});

describe("extract: damaged input", () => {
  let tmp: string;
  let good: Buffer;
  before(async () => {
    tmp = await mkTmp();
    const ws = path.join(tmp, "workspace");
    await fs.mkdir(ws);
    await fs.writeFile(path.join(ws, "text.md"), Array.from({ length: 40000 }, (_, i) => `row ${i} ${i * 7919}\n`).join(""));
    await fs.writeFile(path.join(ws, "blob.bin"), seeded(400 * 1024));
    await fs.writeFile(path.join(ws, "z.txt"), "last");
    const walk = await walkSources([{ item: "workspace", path: ws, archiveName: "workspace" }]);
    const file = path.join(tmp, "good.tar.gz");
    await packToFile(walk, file, { blockSize: 128 * 1024 });
    good = await fs.readFile(file);
  });
  after(() => rmTmp(tmp));

  let n = 0;
  const target = (): string => path.join(tmp, `out${n++}`);

  it("extracts the intact archive", async () => {
    const r = await extractArchive(bufferStream(good), target());
    assert.equal(r.files, 3);
  });

  for (const cut of [0.5, 0.99]) {
    it(`reports SNAPSHOT_CORRUPT for an archive truncated at ${cut * 100}%`, async () => {
      await assert.rejects(extractArchive(bufferStream(good.subarray(0, Math.floor(good.length * cut))), target()), expectCode("SNAPSHOT_CORRUPT"));
    });
  }

  for (const where of [0.25, 0.5, 0.75]) {
    it(`reports SNAPSHOT_CORRUPT for a flipped byte at ${where * 100}%`, async () => {
      const bad = Buffer.from(good);
      let i = Math.floor(bad.length * where);
      // Not in a gzip member header's unchecked fields (mtime, flags, OS): those carry no data.
      const magic = bad.lastIndexOf(Buffer.from([0x1f, 0x8b, 0x08]), i);
      if (magic !== -1 && i - magic < 10) i = magic + 16;
      bad[i] = (bad[i] as number) ^ 0x55;
      await assert.rejects(extractArchive(bufferStream(bad), target()), expectCode("SNAPSHOT_CORRUPT"));
    });
  }

  it("reports SNAPSHOT_CORRUPT for a damaged gzip member header in a multi-member stream", async () => {
    const bad = Buffer.from(good);
    const second = bad.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), 10);
    assert.ok(second > 0);
    bad[second] = 0;
    await assert.rejects(extractArchive(bufferStream(bad), target()), expectCode("SNAPSHOT_CORRUPT"));
  });

  it("reports SNAPSHOT_CORRUPT for a valid gzip of a tar cut at an entry boundary", async () => {
    const plain = zlib.gunzipSync(good);
    // Keep just the first entry (the folder header): valid gzip, no end-of-archive marker.
    await assert.rejects(extractArchive(bufferStream(zlib.gzipSync(plain.subarray(0, 512))), target()), expectCode("SNAPSHOT_CORRUPT"));
  });

  it("reports SNAPSHOT_CORRUPT for data that is not gzip", async () => {
    await assert.rejects(extractArchive(bufferStream(seeded(5000)), target()), (err: unknown) => {
      expectCode("SNAPSHOT_CORRUPT")(err);
      assert.match((err as Error).message, /wrong passphrase/);
      return true;
    });
    await assert.rejects(extractArchive(bufferStream(zlib.gzipSync(seeded(5000))), target()), expectCode("SNAPSHOT_CORRUPT"));
  });

  it("rethrows a WorkspaceSyncError from the source unchanged", async () => {
    const wrong = new WorkspaceSyncError("WRONG_PASSPHRASE", "Wrong passphrase: check backup.passphrase");
    const source = new Readable({
      read() {
        this.push(good.subarray(0, 2000));
        this.destroy(wrong);
      },
    });
    await assert.rejects(extractArchive(source, target()), (err: unknown) => err === wrong);
    const plainErr = new Readable({
      read() {
        this.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
      },
    });
    await assert.rejects(extractArchive(plainErr, target()), (err: unknown) => isWorkspaceSyncError(err) && err.code !== "SNAPSHOT_CORRUPT");
  });

  it("checkArchive reads the whole archive without writing and finds the same damage", async () => {
    const r = await checkArchive(bufferStream(good));
    assert.deepEqual({ entries: r.entries, files: r.files, compressedBytes: r.compressedBytes }, { entries: 4, files: 3, compressedBytes: good.length });
    assert.equal(r.bytes, (await fs.stat(path.join(tmp, "workspace/text.md"))).size + 400 * 1024 + 4);
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)] ^= 0x55;
    await assert.rejects(checkArchive(bufferStream(bad)), expectCode("SNAPSHOT_CORRUPT"));
    await assert.rejects(checkArchive(bufferStream(good.subarray(0, good.length - 100))), expectCode("SNAPSHOT_CORRUPT"));
    const hostile = await makeTarGz([{ header: { name: "../up" }, content: "x" }]);
    await assert.rejects(checkArchive(bufferStream(hostile)), expectCode("UNSAFE_ARCHIVE_ENTRY"));
  });

  it("stops with ABORTED when the signal fires", async () => {
    const ac = new AbortController();
    let sent = 0;
    const slow = new Readable({
      read() {
        if (sent === 0) {
          this.push(good.subarray(0, 4096));
          sent++;
          setTimeout(() => ac.abort(), 10);
        }
      },
    });
    await assert.rejects(extractArchive(slow, target(), { signal: ac.signal }), expectCode("ABORTED"));
  });
});

describe("extract: root entries", () => {
  it("ignores a './' folder entry and refuses a non-folder entry for the root", async () => {
    const tmp = await mkTmp();
    try {
      const ok = await makeTarGz([
        { header: { name: "./", type: "directory" as const, mode: 0o700 } },
        { header: { name: "./a.txt" }, content: "a" },
      ]);
      const out = path.join(tmp, "ok");
      await extractArchive(bufferStream(ok), out);
      assert.deepEqual(await fs.readdir(out), ["a.txt"]);
      const bad = await makeTarGz([{ header: { name: ".", type: "symlink" as const, linkname: "x" } }]);
      await assert.rejects(extractArchive(bufferStream(bad), path.join(tmp, "bad")), expectCode("UNSAFE_ARCHIVE_ENTRY"));
    } finally {
      await rmTmp(tmp);
    }
  });
});
