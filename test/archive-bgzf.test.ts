/**
 * The member index in gzip headers (bgzf-index.ts) and the parallel gunzip that uses it
 * (parallel-gunzip.ts): what the writer puts in each header, that the gzip CLIs and GNU tar read
 * it, that the reader inflates indexed members in parallel and falls back to the sequential path
 * for anything else, and a fuzz of the size field (lies, zero, past the end, overlapping members)
 * where the data itself is intact (the restore must come out exactly right) or also damaged (it
 * must fail as SNAPSHOT_CORRUPT, never hang).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import zlib from "node:zlib";
import { checkArchive, extractArchive, parallelGzip } from "../src/archive/index.js";
import { INDEX_SUBFIELD_ID, MAX_INDEXED_MEMBER, indexedHeader, memberIsize, readMemberHeader } from "../src/archive/bgzf-index.js";
import { type SequentialReason, parallelGunzip } from "../src/archive/parallel-gunzip.js";
import { runBackup, runRestore } from "../src/backup/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { verifySnapshots } from "../src/index.js";
import { bufferStream, run, snapshotTree, suiteTmp, treeObject } from "./archive-helpers.js";

/** Deterministic xorshift PRNG (the fuzz replays with the same seed). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of it) parts.push(b);
  return Buffer.concat(parts);
}

/** Compressible text with some random runs, `n` bytes. */
function sampleData(n: number, seed = 1): Buffer {
  const rand = prng(seed);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = rand() < 0.1 ? Math.floor(rand() * 256) : 97 + (i % 7);
  return out;
}

async function gzipIndexed(data: Buffer, blockSize = 64 * 1024): Promise<Buffer> {
  return collect(parallelGzip(bufferStream(data, 10_000) as AsyncIterable<Uint8Array>, { blockSize }));
}

/** Offsets and sizes of the members of an indexed stream, walking the sizes in the headers. */
function members(gz: Buffer): { offset: number; size: number }[] {
  const out: { offset: number; size: number }[] = [];
  for (let off = 0; off < gz.length; ) {
    const h = readMemberHeader(gz.subarray(off), true);
    assert.equal(h.kind, "indexed", `member at ${off}`);
    if (h.kind !== "indexed") break;
    out.push({ offset: off, size: h.size });
    off += h.size;
  }
  return out;
}

async function gunzipWith(gz: Buffer, chunk = 7_000): Promise<{ out: Buffer; reasons: SequentialReason[] }> {
  const reasons: SequentialReason[] = [];
  const out = await collect(parallelGunzip(bufferStream(gz, chunk) as AsyncIterable<Buffer>, { onSequential: (r) => reasons.push(r) }));
  return { out, reasons };
}

describe("writer: each member records its size in an FEXTRA subfield", () => {
  const tmp = suiteTmp();

  it("every member has the WS subfield with its exact size; the members tile the stream", async () => {
    const data = sampleData(600 * 1024);
    const gz = await gzipIndexed(data);
    const list = members(gz);
    assert.ok(list.length >= 9, `${list.length} members`);
    assert.equal(list.reduce((n, m) => n + m.size, 0), gz.length);
    for (const m of list) {
      const member = gz.subarray(m.offset, m.offset + m.size);
      assert.deepEqual([...member.subarray(0, 4)], [0x1f, 0x8b, 8, 4]);
      assert.equal(member.readUInt16LE(10), 8);
      assert.ok(member.subarray(12, 14).equals(INDEX_SUBFIELD_ID));
      assert.equal(member.readUInt16LE(14), 4);
      assert.equal(member.readUInt32LE(16), m.size);
      // Each member on its own is a complete gzip file.
      assert.equal(zlib.gunzipSync(member).length, memberIsize(member));
    }
    assert.ok(zlib.gunzipSync(gz).equals(data));
  });

  it("gzip -t, gunzip and GNU tar read the indexed stream byte for byte", async () => {
    const data = sampleData(300 * 1024, 2);
    const file = path.join(tmp(), "data.gz");
    await fs.writeFile(file, await gzipIndexed(data));
    const t = run("gzip", ["-t", file]);
    assert.equal(t.status, 0, t.stderr);
    const out = spawnSync("gunzip", ["-c", file], { maxBuffer: 16 * 1024 * 1024 });
    assert.equal(out.status, 0, out.stderr.toString());
    assert.ok(out.stdout.equals(data));
  });

  it("an empty input is one indexed empty member", async () => {
    const gz = await gzipIndexed(Buffer.alloc(0));
    assert.deepEqual(members(gz), [{ offset: 0, size: gz.length }]);
    assert.equal(zlib.gunzipSync(gz).length, 0);
    assert.equal((await gunzipWith(gz)).out.length, 0);
  });

  it("index: false writes zlib's plain members; members too big to index stay plain", async () => {
    const data = sampleData(200 * 1024, 3);
    const plain = await collect(parallelGzip(bufferStream(data) as AsyncIterable<Uint8Array>, { blockSize: 64 * 1024, index: false }));
    assert.equal(plain[3], 0);
    assert.equal(readMemberHeader(plain).kind, "unindexed");
    assert.equal(indexedHeader(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), MAX_INDEXED_MEMBER), undefined);
    assert.equal(indexedHeader(Buffer.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3]), 100), undefined, "a header with FNAME is left alone");
  });

  it("a real encrypted backup decrypts with openssl enc -d | tar -xz to the same tree", async () => {
    const dir = tmp();
    const ws = path.join(dir, "workspace");
    await fs.mkdir(path.join(ws, "notes"), { recursive: true });
    await fs.writeFile(path.join(ws, "notes", "a.md"), sampleData(3 * 1024 * 1024, 4));
    await fs.writeFile(path.join(ws, "blob.bin"), randomBytes(2 * 1024 * 1024));
    const cloud = path.join(dir, "cloud");
    const syncConfig = { backup: { enabled: true, provider: "local", local: { root: cloud }, encrypt: true, passphrase: "p w", kdfIterations: 1000, include: ["workspace"] } };
    const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state"), skipPrune: true });
    assert.ok(b.ok, JSON.stringify(b));
    const out = path.join(dir, "cli");
    await fs.mkdir(out);
    execFileSync("sh", ["-c", `openssl enc -d -aes-256-cbc -pbkdf2 -iter 1000 -pass env:PASS -in "$1" | tar -xz -C "$2"`, "sh", path.join(cloud, b.snapshotName), out], {
      env: { ...process.env, PASS: "p w" },
    });
    const ours = path.join(dir, "ours");
    const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state"), snapshotName: b.snapshotName, restoreTo: ours });
    assert.ok(r.ok, JSON.stringify(r));
    const want = treeObject(await snapshotTree(ws));
    assert.deepEqual(treeObject(await snapshotTree(path.join(out, "workspace"))), want);
    assert.deepEqual(treeObject(await snapshotTree(path.join(ours, "workspace"))), want);
  });
});

describe("readMemberHeader", () => {
  const good = indexedHeader(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), 1000) as Buffer;

  it("reads the size, asks for more bytes while the header is incomplete", () => {
    assert.deepEqual(readMemberHeader(good), { kind: "indexed", size: 1010 });
    assert.deepEqual(readMemberHeader(good.subarray(0, 5)), { kind: "more", need: 12 });
    assert.deepEqual(readMemberHeader(good.subarray(0, 15)), { kind: "more", need: 20 });
    assert.deepEqual(readMemberHeader(good.subarray(0, 15), true), { kind: "unindexed" });
    assert.deepEqual(readMemberHeader(Buffer.alloc(0)), { kind: "more", need: 1 });
  });

  it("finds the subfield among others; refuses impossible sizes and malformed extra fields", () => {
    const other = Buffer.concat([good.subarray(0, 10), Buffer.from([14, 0, 0x41, 0x42, 2, 0, 9, 9]), good.subarray(12)]);
    assert.deepEqual(readMemberHeader(other), { kind: "indexed", size: 1010 });
    const withSize = (n: number): Buffer => {
      const b = Buffer.from(good);
      b.writeUInt32LE(n >>> 0, 16);
      return b;
    };
    for (const n of [0, 1, 29, MAX_INDEXED_MEMBER + 1, 0xffffffff]) assert.equal(readMemberHeader(withSize(n)).kind, "unindexed", String(n));
    assert.equal(readMemberHeader(withSize(30)).kind, "indexed");
    const overrun = Buffer.from(good);
    overrun.writeUInt16LE(40, 14); // subfield longer than the extra field
    assert.equal(readMemberHeader(overrun).kind, "unindexed");
    const wrongLen = Buffer.concat([good.subarray(0, 10), Buffer.from([10, 0, 0x57, 0x53, 6, 0, 1, 2, 3, 4, 5, 6])]);
    assert.equal(readMemberHeader(wrongLen).kind, "unindexed");
    assert.equal(readMemberHeader(Buffer.from("hello world, not gzip")).kind, "not-gzip");
    assert.equal(readMemberHeader(zlib.gzipSync("x")).kind, "unindexed");
  });
});

describe("reader: parallel where indexed, sequential otherwise", () => {
  const data = sampleData(900 * 1024, 5);
  const tmp = suiteTmp();

  it("an indexed stream is inflated without the sequential path, in order, whatever the chunking", async () => {
    const gz = await gzipIndexed(data);
    for (const chunk of [1, 19, 7_000, 65_536, gz.length]) {
      if (chunk === 1 && gz.length > 200_000) {
        // one byte at a time: only a prefix, to keep the test quick
        const small = await gzipIndexed(data.subarray(0, 150 * 1024));
        const r = await gunzipWith(small, 1);
        assert.ok(r.out.equals(data.subarray(0, 150 * 1024)));
        assert.deepEqual(r.reasons, []);
        continue;
      }
      const r = await gunzipWith(gz, chunk);
      assert.ok(r.out.equals(data), `chunk ${chunk}`);
      assert.deepEqual(r.reasons, [], `chunk ${chunk}`);
    }
  });

  it("a stream without the index (zlib, GNU gzip) goes the sequential path from the start", async () => {
    const r = await gunzipWith(zlib.gzipSync(data));
    assert.ok(r.out.equals(data));
    assert.deepEqual(r.reasons, ["no-index"]);
    const file = path.join(tmp(), "cli.bin");
    await fs.writeFile(file, data);
    const cli = execFileSync("gzip", ["-c", "-n", file], { maxBuffer: 16 * 1024 * 1024 });
    const r2 = await gunzipWith(cli);
    assert.ok(r2.out.equals(data));
    assert.deepEqual(r2.reasons, ["no-index"]);
  });

  it("a member without the index in the middle: the rest is inflated in order, the result is the same", async () => {
    const gz = await gzipIndexed(data);
    const list = members(gz);
    const mid = list[4] as { offset: number; size: number };
    // Re-encode the fifth member's data with plain zlib (no index) in its place.
    const plainMember = zlib.gzipSync(zlib.gunzipSync(gz.subarray(mid.offset, mid.offset + mid.size)));
    const mixed = Buffer.concat([gz.subarray(0, mid.offset), plainMember, gz.subarray(mid.offset + mid.size)]);
    const r = await gunzipWith(mixed);
    assert.ok(r.out.equals(data));
    assert.deepEqual(r.reasons, ["no-index"]);
  });

  it("bytes after the last indexed member are SNAPSHOT_CORRUPT for extract and check", async () => {
    const gz = await gzipIndexed(smallTar(), 64 * 1024);
    const tails = [Buffer.from("x"), randomBytes(100), Buffer.from([0x1f, 0x8a, 1, 2]), Buffer.from([0x1f])];
    for (const [i, tail] of tails.entries()) {
      const bad = Buffer.concat([gz, tail]);
      const out = path.join(tmp(), `tail-${i}`);
      const e = await settle((signal) => extractArchive(bufferStream(bad), out, { signal }));
      assert.ok(isWorkspaceSyncError(e, "SNAPSHOT_CORRUPT"), `tail ${tail.toString("hex")}: ${String(e)}`);
      const c = await settle((signal) => checkArchive(bufferStream(bad), { signal }));
      assert.ok(isWorkspaceSyncError(c, "SNAPSHOT_CORRUPT"), `tail ${tail.toString("hex")}: ${String(c)}`);
    }
  });

  it("aborting while members inflate settles as ABORTED", async () => {
    const gz = await gzipIndexed(smallTar(), 64 * 1024);
    const stalled = new PassThrough();
    stalled.write(gz.subarray(0, Math.floor(gz.length * 0.7)));
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("user cancelled")), 50);
    const e = await settle(() => checkArchive(stalled, { signal: ac.signal }));
    assert.ok(isWorkspaceSyncError(e, "ABORTED"), String(e));
  });
});

/** A tar of a few files (GNU tar format from our own writer is not needed: a raw ustar will do). */
function smallTar(): Buffer {
  const parts: Buffer[] = [];
  const rand = prng(99);
  for (let i = 0; i < 12; i++) {
    const data = i % 3 === 0 ? randomBytes(40_000 + Math.floor(rand() * 30_000)) : sampleData(20_000 + Math.floor(rand() * 90_000), i);
    const h = Buffer.alloc(512);
    h.write(`w/f${i}.txt`, 0, 100, "utf8");
    h.write("0000644\0", 100, 8, "latin1");
    h.write("0000000\0", 108, 8, "latin1");
    h.write("0000000\0", 116, 8, "latin1");
    h.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124, 12, "latin1");
    h.write(`${(1_600_000_000).toString(8).padStart(11, "0")}\0`, 136, 12, "latin1");
    h.write("0", 156, 1, "latin1");
    h.write("ustar\0", 257, 6, "latin1");
    h.write("00", 263, 2, "latin1");
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of h) sum += x;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** The outcome of `run`, or "hang" when it has not settled `ms` after an abort at `ms`. */
async function settle(runIt: (signal: AbortSignal) => Promise<unknown>, ms = 5000): Promise<unknown> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error("test timeout")), ms);
  let hang: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      runIt(ac.signal).then(
        () => "ok",
        (err: unknown) => err,
      ),
      new Promise((resolve) => {
        hang = setTimeout(() => resolve("hang"), ms + 2000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    clearTimeout(hang);
  }
}

describe("fuzz: the size field lies, the data may be damaged too", () => {
  const tmp = suiteTmp();
  const ITERATIONS = Number(process.env.WS_BGZF_FUZZ_ITERATIONS ?? 300);
  const SEED = Number(process.env.WS_BGZF_FUZZ_SEED ?? 20261205);

  it(`${ITERATIONS} mutated size fields: intact data restores exactly, damaged data is SNAPSHOT_CORRUPT, nothing hangs`, async (t) => {
    const tarBuf = smallTar();
    const gz = await gzipIndexed(tarBuf, 64 * 1024);
    const list = members(gz);
    assert.ok(list.length >= 8);
    const want = createHash("sha256").update(tarBuf).digest("hex");
    const rand = prng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const outcomes: Record<string, number> = {};
    const failures: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const bad = Buffer.from(gz);
      const what: string[] = [];
      const lies = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < lies; k++) {
        const idx = Math.floor(rand() * list.length);
        const m = list[idx] as { offset: number; size: number };
        const next = list[idx + 1];
        const kind = pick(["zero", "one", "short", "long", "overlap-next", "past-end", "huge", "random", "min", "off-by-one"] as const);
        const size = {
          zero: 0,
          one: 1,
          short: Math.max(0, m.size - 1 - Math.floor(rand() * m.size)),
          long: m.size + 1 + Math.floor(rand() * 5000),
          "overlap-next": m.size + (next?.size ?? 7),
          "past-end": gz.length - m.offset + 1 + Math.floor(rand() * 1000),
          huge: 0xffffffff - Math.floor(rand() * 1000),
          random: Math.floor(rand() * 0x100000000),
          min: 30,
          "off-by-one": m.size + (rand() < 0.5 ? -1 : 1),
        }[kind];
        bad.writeUInt32LE(size >>> 0, m.offset + 16);
        what.push(`member ${idx}: ${kind} ${size >>> 0}`);
      }
      // Half of the cases also damage the data (a byte of deflate data, or the stream cut short).
      const damage = rand() < 0.5 ? pick(["flip", "cut"] as const) : undefined;
      let input = bad;
      if (damage === "flip") {
        const m = pick(list);
        const at = m.offset + 20 + Math.floor(rand() * (m.size - 28));
        input[at]! ^= 1 + Math.floor(rand() * 255);
        what.push(`flip at ${at}`);
      } else if (damage === "cut") {
        input = input.subarray(0, Math.floor(rand() * input.length));
        what.push(`cut at ${input.length}`);
      }
      const label = `#${i} ${what.join(", ")}`;
      // The reader itself: intact data inflates to exactly the tar.
      if (damage === undefined) {
        const r = await gunzipWith(input, 1000 + Math.floor(rand() * 100_000)).catch((e: unknown) => e);
        const got = r instanceof Object && "out" in r ? createHash("sha256").update(r.out as Buffer).digest("hex") : String(r);
        if (got !== want) failures.push(`${label}: gunzip ${got}`);
      }
      const out = path.join(tmp(), `f${i}`);
      const outcome = await settle((signal) => extractArchive(bufferStream(input, 1000 + Math.floor(rand() * 100_000)), out, { signal }));
      const key = `${damage ?? "intact"} ${outcome === "ok" || outcome === "hang" ? outcome : isWorkspaceSyncError(outcome) ? outcome.code : String(outcome)}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (outcome === "hang") failures.push(`${label}: hang`);
      else if (damage === undefined || damage === "flip") {
        if (outcome === "ok") {
          // Every byte of a member is covered by its CRC-32 or header checks, so only intact data may pass.
          const files = await fs.readdir(path.join(out, "w"));
          if (files.length !== 12) failures.push(`${label}: ${files.length} files restored`);
          if (damage === "flip") {
            // Only a flip that changes nothing inflated (unused padding bits) may pass.
            const r = await gunzipWith(input).catch((e: unknown) => e);
            const same = r instanceof Object && "out" in r && createHash("sha256").update(r.out as Buffer).digest("hex") === want;
            if (!same) failures.push(`${label}: damaged data restored without an error`);
          }
        } else if (damage === undefined) failures.push(`${label}: intact data refused: ${outcome instanceof Error ? outcome.message : String(outcome)}`);
        else if (!isWorkspaceSyncError(outcome, "SNAPSHOT_CORRUPT")) failures.push(`${label}: ${String(outcome)}`);
      } else if (outcome !== "ok" && !isWorkspaceSyncError(outcome, "SNAPSHOT_CORRUPT")) failures.push(`${label}: ${String(outcome)}`);
      await fs.rm(out, { recursive: true, force: true });
    }
    t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
    assert.deepEqual(failures, [], `replay with WS_BGZF_FUZZ_SEED=${SEED}\n${failures.slice(0, 20).join("\n")}`);
    assert.ok((outcomes["intact ok"] ?? 0) > ITERATIONS / 4, JSON.stringify(outcomes));
    assert.ok((outcomes["flip SNAPSHOT_CORRUPT"] ?? 0) > 0, JSON.stringify(outcomes));
  });

  it("intact restores through the real backup path: a lying size in a stored snapshot still restores and verifies", async () => {
    const dir = tmp();
    const ws = path.join(dir, "workspace");
    await fs.mkdir(ws, { recursive: true });
    await fs.writeFile(path.join(ws, "a.txt"), sampleData(2 * 1024 * 1024, 8));
    const cloud = path.join(dir, "cloud");
    const syncConfig = { backup: { enabled: true, provider: "local", local: { root: cloud }, encrypt: false, include: ["workspace"] } };
    const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state"), skipPrune: true });
    assert.ok(b.ok, JSON.stringify(b));
    const file = path.join(cloud, b.snapshotName);
    const bytes = await fs.readFile(file);
    const list = members(bytes);
    assert.ok(list.length >= 2);
    bytes.writeUInt32LE((list[1] as { size: number }).size + 3, (list[1] as { offset: number }).offset + 16);
    await fs.writeFile(file, bytes);
    await fs.rm(`${file}.sha256`, { force: true }); // the checksum would refuse the change before anything else
    const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state"), snapshotName: b.snapshotName, restoreTo: path.join(dir, "out") });
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok((await fs.readFile(path.join(dir, "out", "workspace", "a.txt"))).equals(await fs.readFile(path.join(ws, "a.txt"))));
    const v = await verifySnapshots({ syncConfig, stateDir: path.join(dir, "state"), snapshotName: b.snapshotName });
    assert.ok(v.ok && v.snapshots[0]?.ok, JSON.stringify(v));
  });
});

describe("parallelGzip as a consumer stops it", () => {
  it("throw(err) while it yields rejects with err itself (Node 24's Readable.from destroys through throw())", async () => {
    const data = randomBytes(4 * 64 * 1024);
    const gen = parallelGzip(bufferStream(data, 64 * 1024) as AsyncIterable<Uint8Array>, { blockSize: 64 * 1024, concurrency: 1 });
    const first = await gen.next();
    assert.equal(first.done, false, "it emitted output and is suspended mid-stream");
    const stop = new Error("consumer stopped");
    await assert.rejects(gen.throw(stop), (err: unknown) => err === stop);
    assert.equal((await gen.next()).done, true, "and it is finished afterwards");
  });
});
