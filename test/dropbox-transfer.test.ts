import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { isWorkspaceSyncError } from "../src/errors.js";
import type { Logger } from "../src/logger.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { startDropboxFake, type DropboxFake } from "./support/dropbox-fake.js";

const MiB = 1024 * 1024;
const quiet: Logger = { info() {}, warn() {}, error() {} };

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A lazy source that records how many bytes it has produced. */
function countingSource(data: Buffer, piece = 64 * 1024): { stream: Readable; produced: () => number } {
  let pos = 0;
  const stream = new Readable({
    highWaterMark: piece,
    read() {
      if (pos >= data.length) return void this.push(null);
      const next = data.subarray(pos, pos + piece);
      pos += next.length;
      this.push(next);
    },
  });
  return { stream, produced: () => pos };
}

function callCount(fake: DropboxFake, endpoint: string): number {
  return fake.calls[endpoint] ?? 0;
}

describe("dropbox provider: transfers over the wire fake", () => {
  let fake: DropboxFake;
  let provider: StorageProvider;

  before(async () => {
    fake = await startDropboxFake();
    provider = createDropboxProvider({ token: fake.issueAccessToken(), fetch: fake.fetch }, { logger: quiet }, { chunkSize: 4 * MiB });
  });
  after(async () => {
    await provider.close?.();
    await fake.close();
  });

  it("streams a 13 MiB file through an upload session and reads it back, also from an offset", async () => {
    const data = randomBytes(13 * MiB + 12345);
    const { stream } = countingSource(data);
    let stored = 0;
    const entry = await provider.write("backups/big.bin", stream, {
      sizeHint: data.length,
      mtime: new Date("2026-03-04T05:06:07.890Z"),
      onProgress: (b) => {
        stored = b;
      },
    });
    assert.equal(stored, data.length);
    assert.equal(entry.size, data.length);
    assert.equal(entry.path, "backups/big.bin");
    assert.equal(entry.mtime?.toISOString(), "2026-03-04T05:06:07.000Z");
    assert.ok(entry.hash && entry.revision);
    assert.deepEqual(fake.read("/backups/big.bin"), data);
    assert.equal(callCount(fake, "files/upload_session/start"), 1);
    assert.equal(callCount(fake, "files/upload_session/append_v2"), 2);
    assert.equal(callCount(fake, "files/upload_session/finish"), 1);

    const back = await readAll(await provider.read("backups/big.bin"));
    assert.ok(back.equals(data));
    const tail = await readAll(await provider.read("backups/big.bin", { start: 9 * MiB + 7 }));
    assert.ok(tail.equals(data.subarray(9 * MiB + 7)));
    const nothing = await readAll(await provider.read("backups/big.bin", { start: data.length }));
    assert.equal(nothing.length, 0);
  });

  it("downloads with backpressure: an unread stream does not pull the whole file", async () => {
    const data = randomBytes(48 * MiB);
    fake.put("/pressure.bin", data);
    const sentBefore = fake.downloadedBytes;
    const stream = await provider.read("pressure.bin");
    await new Promise((r) => setTimeout(r, 300));
    const sentWhilePaused = fake.downloadedBytes - sentBefore;
    assert.ok(sentWhilePaused < 24 * MiB, `${sentWhilePaused} bytes sent to a reader that read nothing`);
    assert.ok((await readAll(stream)).equals(data));
    assert.equal(fake.downloadedBytes - sentBefore, data.length);
    const early = await provider.read("pressure.bin");
    const ac = new AbortController();
    const aborted = await provider.read("pressure.bin", { signal: ac.signal });
    const firstBytes = await new Promise<Buffer>((resolve) => early.once("data", resolve));
    assert.ok(firstBytes.length > 0);
    early.destroy();
    ac.abort();
    await assert.rejects(readAll(aborted), (e: unknown) => isWorkspaceSyncError(e, "ABORTED"));
    await provider.delete("pressure.bin");
  });

  it("keeps the source at most two chunks ahead of what is stored", async () => {
    const data = randomBytes(21 * MiB);
    const { stream, produced } = countingSource(data);
    let maxAhead = 0;
    let stored = 0;
    const timer = setInterval(() => {
      maxAhead = Math.max(maxAhead, produced() - stored);
    }, 1);
    try {
      await provider.write("bounded.bin", stream, {
        onProgress: (b) => {
          stored = b;
          maxAhead = Math.max(maxAhead, produced() - stored);
        },
      });
    } finally {
      clearInterval(timer);
    }
    assert.ok(maxAhead > 0);
    assert.ok(maxAhead <= 2 * 4 * MiB + MiB, `source ran ${maxAhead} bytes ahead`);
    assert.ok(fake.read("/bounded.bin")!.equals(data));
  });

  it("a failing stream leaves no file behind", async () => {
    const before = new Map(fake.files);
    let sent = 0;
    const broken = new Readable({
      read() {
        if (sent >= 9 * MiB) return void this.destroy(new Error("disk read failed"));
        sent += MiB;
        this.push(randomBytes(MiB));
      },
    });
    await assert.rejects(provider.write("partial.bin", broken), /disk read failed/);
    assert.equal(fake.read("/partial.bin"), undefined);
    assert.deepEqual([...fake.files.keys()].sort(), [...before.keys()].sort());
  });

  it("an abort during a streamed upload leaves no file", async () => {
    const ac = new AbortController();
    let sent = 0;
    const endless = new Readable({
      read() {
        sent += MiB;
        if (sent === 10 * MiB) ac.abort(new Error("user cancelled"));
        this.push(randomBytes(MiB));
      },
    });
    await assert.rejects(provider.write("aborted.bin", endless, { signal: ac.signal }), (e: unknown) => isWorkspaceSyncError(e, "ABORTED"));
    assert.equal(fake.read("/aborted.bin"), undefined);
    assert.ok(endless.destroyed);
  });

  it("uploads a lone small file with files/upload", async () => {
    const startCalls = callCount(fake, "files/upload");
    const entry = await provider.write("notes/small.txt", Readable.from([Buffer.from("hello dropbox")]), { mtime: new Date("2025-01-02T03:04:05Z") });
    assert.equal(callCount(fake, "files/upload"), startCalls + 1);
    assert.equal(entry.size, 13);
    assert.equal(fake.read("/notes/small.txt")?.toString(), "hello dropbox");
    assert.equal(fake.files.get("/notes/small.txt")?.clientModified, "2025-01-02T03:04:05Z");
    const st = await provider.stat("notes/small.txt");
    assert.equal(st?.size, 13);
    assert.equal(st?.hash, entry.hash);
    assert.equal(st?.mtime?.toISOString(), "2025-01-02T03:04:05.000Z");
    assert.equal(await provider.stat("notes/missing.txt"), undefined);
    assert.equal(await provider.stat("notes"), undefined, "a folder is not a file");
  });

  it("commits ~200 concurrent small files in batches", async () => {
    const before = callCount(fake, "files/upload_session/finish_batch_v2");
    const bodies = Array.from({ length: 200 }, (_, i) => randomBytes(100 + i));
    const entries = await Promise.all(bodies.map((b, i) => provider.write(`many/f${i}.bin`, Readable.from([b]))));
    const batches = callCount(fake, "files/upload_session/finish_batch_v2") - before;
    assert.ok(batches >= 1 && batches <= 5, `${batches} batch commits`);
    bodies.forEach((b, i) => {
      assert.ok(fake.read(`/many/f${i}.bin`)?.equals(b), `f${i}`);
      assert.equal(entries[i]!.size, b.length);
    });
  });

  it("refuses to overwrite when overwrite is false, overwrites otherwise", async () => {
    await provider.write("modes/a.txt", Readable.from([Buffer.from("one")]));
    await assert.rejects(provider.write("modes/a.txt", Readable.from([Buffer.from("two")]), { overwrite: false }), (e: unknown) => isWorkspaceSyncError(e, "ALREADY_EXISTS"));
    assert.equal(fake.read("/modes/a.txt")?.toString(), "one");
    await provider.write("modes/a.txt", Readable.from([Buffer.from("three")]));
    assert.equal(fake.read("/modes/a.txt")?.toString(), "three");
    const big = randomBytes(5 * MiB);
    await assert.rejects(provider.write("modes/a.txt", Readable.from([big]), { overwrite: false }), (e: unknown) => isWorkspaceSyncError(e, "ALREADY_EXISTS"));
    assert.equal(fake.read("/modes/a.txt")?.toString(), "three");
  });

  it("lists, deletes and batch-deletes", async () => {
    for (const p of ["del/a.txt", "del/b.txt", "del/sub/c.txt", "del/sub/d.txt"]) await provider.write(p, Readable.from([Buffer.from(p)]));
    await provider.ensureDir("del/empty");
    await provider.ensureDir("del/empty");
    const listed = [];
    for await (const e of provider.list("del")) listed.push(e);
    assert.deepEqual(listed.map((e) => e.path).sort(), ["a.txt", "b.txt", "sub/c.txt", "sub/d.txt"]);
    for (const e of listed) {
      assert.equal(e.hash, (await provider.stat(`del/${e.path}`))?.hash);
      assert.ok(e.revision && e.mtime);
    }
    const shallow = [];
    for await (const e of provider.list("del", { recursive: false })) shallow.push(e.path);
    assert.deepEqual(shallow.sort(), ["a.txt", "b.txt"]);

    await provider.delete("del/a.txt");
    await provider.delete("del/a.txt");
    assert.equal(fake.read("/del/a.txt"), undefined);
    const checksBefore = callCount(fake, "files/delete_batch/check");
    const failures = await provider.deleteMany(["del/b.txt", "del/sub/c.txt", "del/never-there.txt", "del/sub/d.txt"]);
    assert.deepEqual(failures, []);
    assert.ok(callCount(fake, "files/delete_batch/check") > checksBefore, "polled the async job");
    assert.equal(fake.read("/del/b.txt"), undefined);
    assert.equal(fake.read("/del/sub/d.txt"), undefined);
    const mixed = await provider.deleteMany(["", "del/sub", "../bad"]);
    assert.deepEqual(mixed.map((f) => f.path).sort(), ["", "../bad"]);
    assert.ok(mixed.every((f) => isWorkspaceSyncError(f.error, "INVALID_PATH")));
    const empty = [];
    for await (const e of provider.list("no/such/folder")) empty.push(e);
    assert.deepEqual(empty, []);
  });

  it("ensureDir fails when a file is in the way", async () => {
    await provider.write("blocker", Readable.from([Buffer.from("x")]));
    await assert.rejects(provider.ensureDir("blocker"), (e: unknown) => isWorkspaceSyncError(e, "ALREADY_EXISTS"));
  });

  it("treats names differing in case as the same file", async () => {
    await provider.write("Code/a.txt", Readable.from([Buffer.from("upper")]));
    await provider.write("code/a.txt", Readable.from([Buffer.from("lower")]));
    const keys = [...fake.files.keys()].filter((k) => k.startsWith("/code/"));
    assert.deepEqual(keys, ["/code/a.txt"]);
    assert.equal(fake.files.get("/code/a.txt")?.path, "/Code/a.txt");
    assert.equal(fake.read("/CODE/A.TXT")?.toString(), "lower");
    assert.equal((await readAll(await provider.read("CODE/A.txt"))).toString(), "lower");
    assert.equal(provider.capabilities.caseInsensitive, true);
  });

  it("handles non-ASCII names in Dropbox-API-Arg", async () => {
    await provider.write("ünïcødé/日本語.txt", Readable.from([Buffer.from("kanji")]));
    assert.equal(fake.files.get("/ünïcødé/日本語.txt")?.path, "/ünïcødé/日本語.txt");
    assert.equal((await readAll(await provider.read("ünïcødé/日本語.txt"))).toString(), "kanji");
    const names = [];
    for await (const e of provider.list("ünïcødé")) names.push(e.path);
    assert.deepEqual(names, ["日本語.txt"]);
  });

  it("refuses names Dropbox ignores with INVALID_PATH", async () => {
    for (const name of ["desktop.ini", "Thumbs.db", "sub/.DS_Store", "Icon\r", ".dropbox"]) {
      await assert.rejects(provider.write(name, Readable.from([Buffer.from("x")])), (e: unknown) => isWorkspaceSyncError(e, "INVALID_PATH"), name);
    }
    assert.ok(provider.capabilities.ignoredNames?.includes("thumbs.db"));
  });

  it("maps errors: not found, insufficient space, bad paths", async () => {
    await assert.rejects(provider.read("nope/missing.bin"), (e: unknown) => isWorkspaceSyncError(e, "NOT_FOUND"));
    await assert.rejects(provider.write("../escape.txt", Readable.from([Buffer.from("x")])), (e: unknown) => isWorkspaceSyncError(e, "INVALID_PATH"));
    fake.quota = 0;
    try {
      await assert.rejects(provider.write("full/x.bin", Readable.from([randomBytes(10)])), (e: unknown) => isWorkspaceSyncError(e, "INSUFFICIENT_SPACE") && /free space/.test((e as Error).message));
      await assert.rejects(provider.write("full/y.bin", Readable.from([randomBytes(6 * MiB)])), (e: unknown) => isWorkspaceSyncError(e, "INSUFFICIENT_SPACE"));
    } finally {
      fake.quota = Number.POSITIVE_INFINITY;
    }
    assert.equal(fake.read("/full/x.bin"), undefined);
  });

  it("check() calls users/get_current_account", async () => {
    const before = callCount(fake, "users/get_current_account");
    await provider.check();
    assert.equal(callCount(fake, "users/get_current_account"), before + 1);
    assert.equal(await provider.cleanupIncomplete("", 0), 0);
  });
});
