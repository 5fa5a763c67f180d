/**
 * Freeing a restore's Buffers as soon as their last reader is done (src/util/release-buffer.ts):
 * what is handed over is freed exactly once every view of it is released and never before its
 * reader is done with it (a large file's data mid-entry, a small file queued for the file
 * thread), what was not handed over is never touched, and the sequential gunzip (which reads its
 * input as it goes) frees none of its input. Also the chunk-by-chunk reading it relies on
 * (src/util/stream-chunks.ts) and the local provider's part.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import zlib from "node:zlib";
import { extractArchive, parallelGzip } from "../src/archive/index.js";
import { parallelGunzip } from "../src/archive/parallel-gunzip.js";
import { readTarGz } from "../src/archive/read-tar-gz.js";
import { SmallFileWriter } from "../src/archive/small-file-writer.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { runBackup, runRestore } from "../src/index.js";
import { handOver, handingOver, isHandedOver, release } from "../src/util/release-buffer.js";
import { chunksOf } from "../src/util/stream-chunks.js";
import { type RawEntry, makeTarGz } from "./archive-helpers.js";
import { tempDir, treeDiff, treeFingerprint, writeTree } from "./support/tree.js";

const MiB = 1024 * 1024;

/** `data` in chunks of `size`, each a Buffer with memory of its own. */
function ownChunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(Buffer.from(data.subarray(i, i + size)));
  return out;
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of it) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

/** A tar of `entries`, gzipped with the member index (`indexed`) or as one plain member. */
async function tarGz(entries: RawEntry[], indexed: boolean): Promise<Buffer> {
  const plain = await makeTarGz(entries);
  if (!indexed) return plain;
  return collect(parallelGzip(Readable.from([zlib.gunzipSync(plain)]) as AsyncIterable<Uint8Array>, { blockSize: 256 * 1024 }));
}

const detached = (b: Buffer): boolean => b.buffer.byteLength === 0;
/** Buffers below 64 KiB are never handed over (Node's pool shares small ones): the rest must be freed. */
const freedIfLarge = (b: Buffer, size = b.length): boolean => size < 64 * 1024 || detached(b);

describe("release-buffer: what is handed over is freed once, at its last release", () => {
  it("frees a handed-over Buffer at its release, and not one that was not handed over", () => {
    const given = Buffer.alloc(MiB, 7);
    const kept = Buffer.alloc(MiB, 7);
    handOver(given);
    assert.equal(isHandedOver(given), true);
    release(kept);
    assert.equal(kept.length, MiB);
    assert.equal(kept[5], 7);
    release(given);
    assert.equal(detached(given), true);
    assert.equal(given.length, 0);
    assert.equal(isHandedOver(given), false);
    release(given); // a second release is harmless
  });

  it("frees memory shared by several views only when the last one is released", () => {
    const whole = Buffer.alloc(MiB, 1);
    const a = whole.subarray(0, 1000);
    const b = whole.subarray(1000);
    handOver(a, whole.length);
    handOver(b, whole.length);
    release(a);
    assert.equal(b.length, MiB - 1000, "b is still being read");
    assert.equal(a[0], 1);
    release(b);
    assert.equal(detached(whole), true);
  });

  it("never hands over Node's shared pool, however large a host made it", async () => {
    const poolSize = Buffer.poolSize;
    Buffer.poolSize = 4 * MiB;
    try {
      // Allocations under half the pool size come from the (new, 4 MiB) pool.
      let pooled = Buffer.allocUnsafe(100 * 1024);
      for (let i = 0; i < 100 && pooled.buffer.byteLength !== 4 * MiB; i++) pooled = Buffer.allocUnsafe(100 * 1024);
      assert.equal(pooled.buffer.byteLength, 4 * MiB, "a pooled Buffer");
      const neighbour = Buffer.allocUnsafe(100).fill(9);
      assert.equal(neighbour.buffer, pooled.buffer);
      handOver(pooled);
      handOver(pooled, 100 * 1024);
      assert.equal(isHandedOver(pooled), false);
      release(pooled);
      assert.equal(neighbour[0], 9);
      // zlib takes a small member's output buffer from the pool as well: not handed over either.
      const gz = await collect(parallelGzip(Readable.from([randomBytes(100_000)]) as AsyncIterable<Uint8Array>, { blockSize: 256 * 1024 }));
      const out: Buffer[] = [];
      for await (const c of parallelGunzip(Readable.from([gz]) as AsyncIterable<Buffer>)) out.push(c);
      assert.ok(out.length > 0 && out.every((c) => c.buffer.byteLength === 4 * MiB), "zlib's output came from the pool");
      assert.ok(out.every((c) => !isHandedOver(c)));
    } finally {
      Buffer.poolSize = poolSize;
    }
  });

  it("leaves small Buffers (which may share Node's pool) to the collector", () => {
    const small = Buffer.from("a small one");
    handOver(small);
    release(small);
    assert.equal(small.toString(), "a small one");
  });

  it("handingOver passes a stream's chunks unchanged, handed over, and its errors", async () => {
    const parts = ownChunks(randomBytes(3 * MiB), MiB);
    const seen: Buffer[] = [];
    for await (const c of handingOver(Readable.from(parts))) seen.push(c as Buffer);
    assert.equal(seen.length, 3);
    seen.forEach((c, i) => {
      assert.equal(c, parts[i]);
      assert.equal(isHandedOver(c), true);
    });
    const failing = new PassThrough();
    const stage = handingOver(failing);
    failing.destroy(new Error("disk gone"));
    await assert.rejects(collect(stage), /disk gone/);
  });
});

describe("chunksOf: a byte stream's chunks one by one", () => {
  it("yields each chunk as written, never two joined into a copy", async () => {
    const s = new PassThrough({ highWaterMark: 4 * MiB });
    const parts = ownChunks(randomBytes(3 * 100_000), 100_000);
    for (const p of parts) s.write(p); // all three buffered before the first read
    s.end();
    const got: Buffer[] = [];
    for await (const c of chunksOf(s)) got.push(c);
    assert.equal(got.length, 3);
    got.forEach((c, i) => assert.equal(c, parts[i]));
  });

  it("throws the stream's error, and a premature close", async () => {
    const failing = new PassThrough();
    failing.write(Buffer.from("x"));
    setImmediate(() => failing.destroy(new Error("read failed")));
    await assert.rejects(collect(chunksOf(failing)), /read failed/);
    const closed = new PassThrough();
    setImmediate(() => closed.destroy());
    await assert.rejects(collect(chunksOf(closed)), { code: "ERR_STREAM_PREMATURE_CLOSE" });
  });

  it("destroys the stream when the reader stops early", async () => {
    const s = new PassThrough();
    s.write(Buffer.from("one"));
    s.write(Buffer.from("two"));
    for await (const _c of chunksOf(s)) break;
    assert.equal(s.destroyed, true);
  });
});

describe("parallelGunzip and readTarGz free what was handed over, once read", () => {
  const big = randomBytes(5 * MiB); // incompressible: members of ~256 KiB stored
  const entries: RawEntry[] = [{ header: { name: "a.txt" }, content: "alpha\n".repeat(5000) }, { header: { name: "big.bin" }, content: big }, { header: { name: "z.txt" }, content: "omega\n" }];

  it("frees each input chunk of indexed members once inflated, and each output once its entry took it", async () => {
    const gz = await tarGz(entries, true);
    const input = ownChunks(gz, 300 * 1024);
    for (const c of input) handOver(c);
    const views: { view: Buffer; size: number }[] = [];
    let midway = -1;
    const files = new Map<string, Buffer>();
    await readTarGz(Readable.from(input), async (entry, consumed) => {
      const parts: Buffer[] = [];
      let n = 0;
      const start = views.length;
      for await (const c of entry as AsyncIterable<Buffer>) {
        parts.push(Buffer.from(c));
        views.push({ view: c, size: c.buffer.byteLength });
        n += c.length;
        if (entry.header.name === "big.bin" && n >= 3 * MiB && midway < 0) {
          // Say that the first 3 MiB are written: the views wholly before go now, mid-entry.
          consumed(n);
          midway = views.slice(start).filter((v) => detached(v.view)).length;
        }
      }
      files.set(entry.header.name, Buffer.concat(parts));
    });
    assert.ok(files.get("big.bin")?.equals(big), "the large file came out intact");
    assert.equal(files.get("z.txt")?.toString(), "omega\n");
    assert.ok(midway > 0, "a large entry's first chunks are freed before the entry ends");
    assert.ok(input.every((c) => freedIfLarge(c)), "every input chunk was freed");
    assert.ok(views.every((v) => freedIfLarge(v.view, v.size)), "every output chunk was freed");
    assert.ok(views.filter((v) => detached(v.view)).length >= 20, "5 MiB of output, in members of 256 KiB");
  });

  it("frees none of the input of a stream without the index (the sequential gunzip reads it as it goes)", async () => {
    const gz = await tarGz(entries, false);
    const input = ownChunks(gz, 300 * 1024);
    for (const c of input) handOver(c);
    const out = await collect(parallelGunzip(Readable.from(input) as AsyncIterable<Buffer>));
    assert.ok(out.length > big.length);
    assert.ok(input.every((c) => !detached(c)), "no input chunk was freed");
  });

  it("extracts a handed-over indexed stream exactly (small files queued for the file thread, a large file written in pieces)", async () => {
    const { dir, cleanup } = await tempDir("ws-release-");
    try {
      const many: RawEntry[] = [{ header: { name: "d", type: "directory" } }];
      const expected: Record<string, Buffer> = {};
      for (let i = 0; i < 400; i++) {
        const body = randomBytes(1000 + ((i * 7919) % 90_000));
        many.push({ header: { name: `d/f${i}` }, content: body });
        expected[`d/f${i}`] = body;
      }
      many.push({ header: { name: "d/big.bin" }, content: big });
      expected["d/big.bin"] = big;
      const input = ownChunks(await tarGz(many, true), 512 * 1024);
      for (const c of input) handOver(c);
      await extractArchive(Readable.from(input), dir);
      for (const [name, body] of Object.entries(expected)) assert.ok((await fs.readFile(path.join(dir, name))).equals(body), name);
      assert.ok(input.every((c) => freedIfLarge(c)));
    } finally {
      await cleanup();
    }
  });
});

describe("the small-file writer holds no caller's Buffer", () => {
  it("writes every file right when its data is freed as soon as write() returns", async () => {
    const { dir, cleanup } = await tempDir("ws-release-small-");
    const writer = new SmallFileWriter(() => {});
    try {
      const bodies: Buffer[] = [];
      for (let i = 0; i < 600; i++) {
        const body = randomBytes(64 * 1024 + i);
        bodies.push(Buffer.from(body));
        const chunks = [body.subarray(0, 1000), body.subarray(1000)];
        for (const c of chunks) handOver(c, body.length);
        writer.write(path.join(dir, `f${i}`), `f${i}`, chunks, body.length, 0o644, undefined);
        for (const c of chunks) release(c);
        assert.equal(detached(body), true);
      }
      await writer.barrier();
      for (let i = 0; i < bodies.length; i++) assert.ok((await fs.readFile(path.join(dir, `f${i}`))).equals(bodies[i] as Buffer), `f${i}`);
    } finally {
      await writer.close();
      await cleanup();
    }
  });
});

describe("the local provider and a restore", () => {
  let dir = "";
  let cleanup: () => Promise<void> = async () => {};
  before(async () => {
    ({ dir, cleanup } = await tempDir("ws-release-restore-"));
  });
  after(() => cleanup());

  it("the local provider hands its chunks over only when asked", async () => {
    const provider = createLocalProvider({ root: dir });
    await fs.writeFile(path.join(dir, "blob"), randomBytes(3 * MiB));
    const asked: Buffer[] = [];
    for await (const c of await provider.read("blob", { handOver: true })) asked.push(c as Buffer);
    assert.ok(asked.length >= 3 && asked.every((c) => isHandedOver(c)));
    const plain: Buffer[] = [];
    for await (const c of await provider.read("blob")) plain.push(c as Buffer);
    assert.ok(plain.every((c) => !isHandedOver(c)));
    for (const c of asked) release(c);
  });

  it("a provider passed in by the caller keeps its chunks, even one wrapping ours and passing the options on", async () => {
    const ws = path.join(dir, "ws-wrapped");
    await writeTree(ws, { "big.bin": randomBytes(6 * MiB), "a.txt": "alpha\n" });
    const cloud = path.join(dir, "cloud-wrapped");
    const cfg = { backup: { enabled: true, provider: "local", local: { root: cloud }, encrypt: true, passphrase: "release-test", kdfIterations: 1000, include: ["workspace"] } };
    const b = await runBackup({ syncConfig: cfg, workspaceDir: ws, stateDir: path.join(dir, "state-wrapped"), skipPrune: true });
    assert.ok(b.ok, b.ok ? "" : b.error);
    const inner = createLocalProvider({ root: cloud });
    const kept: Buffer[] = [];
    const wrapper: StorageProvider = {
      ...inner,
      list: (d, o) => inner.list(d, o),
      stat: (p, o) => inner.stat(p, o),
      read: async (p, o) => {
        const stream = await inner.read(p, o);
        if (p.endsWith(b.snapshotName)) stream.on("data", (c: Buffer) => kept.push(c)); // a tee: keeps what it passes on
        return stream;
      },
    };
    const r = await runRestore({ syncConfig: cfg, workspaceDir: ws, stateDir: path.join(dir, "state-wrapped"), snapshotName: b.snapshotName, restoreTo: path.join(dir, "restored-wrapped"), helperThread: "always", provider: wrapper });
    assert.ok(r.ok, r.ok ? "" : r.error);
    const snapshot = await fs.readFile(path.join(cloud, b.snapshotName));
    assert.ok(Buffer.concat(kept).equals(snapshot), "every chunk the wrapper kept is intact");
  });

  it("a restore through the helper thread counts every stored byte in its progress and restores the same tree", async () => {
    const ws = path.join(dir, "ws");
    await writeTree(ws, { "big.bin": randomBytes(6 * MiB), "a.txt": "alpha\n", "sub/b.txt": "b".repeat(200_000) });
    const cloud = path.join(dir, "cloud");
    const cfg = { backup: { enabled: true, provider: "local", local: { root: cloud }, encrypt: true, passphrase: "release-test", kdfIterations: 1000, include: ["workspace"] } };
    const b = await runBackup({ syncConfig: cfg, workspaceDir: ws, stateDir: path.join(dir, "state"), skipPrune: true });
    assert.ok(b.ok, b.ok ? "" : b.error);
    const stored = (await fs.stat(path.join(cloud, b.snapshotName))).size;
    let last = 0;
    const restoreTo = path.join(dir, "restored");
    const r = await runRestore({
      syncConfig: cfg,
      workspaceDir: ws,
      stateDir: path.join(dir, "state"),
      snapshotName: b.snapshotName,
      restoreTo,
      helperThread: "always",
      onProgress: (p) => {
        if (p.phase === "restore" && typeof p.bytes === "number") last = Math.max(last, p.bytes);
      },
    });
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.equal(last, stored);
    assert.deepEqual(treeDiff(await treeFingerprint(path.join(restoreTo, "ws")), await treeFingerprint(ws)), []);
  });
});
