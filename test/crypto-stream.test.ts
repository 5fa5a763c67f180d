import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setImmediate as tick } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import {
  createDecryptStream,
  createEncryptStream,
  createHashStream,
  deriveKeyIv,
  kdfCandidates,
  pbkdf2Kdf,
  type DecryptOptions,
  type KdfSpec,
} from "../src/crypto/index.js";
import { isWorkspaceSyncError, type ErrorCode } from "../src/errors.js";

const PASS = "correct horse battery staple";
const ITER = 1000; // keeps the suite quick; the 100 000 default is covered by the openssl interop tests
const anyPlaintext = (): boolean => true;

/** Splits `data` into chunks of the given sizes (cycled), to cross every header/block boundary. */
function chunked(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  let k = 0;
  while (i < data.length) {
    const n = sizes[k++ % sizes.length] as number;
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Collects what a stream emits; `chunks` stays inspectable after a failure. */
function collector(): { sink: Writable; bytes: () => Buffer; count: () => number } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { sink, bytes: () => Buffer.concat(chunks), count: () => chunks.reduce((n, c) => n + c.length, 0) };
}

async function encrypt(data: Buffer, opts: { passphrase?: string; iterations?: number; salt?: Buffer; sizes?: number[] } = {}): Promise<Buffer> {
  const out = collector();
  await pipeline(
    Readable.from(chunked(data, opts.sizes ?? [65536])),
    createEncryptStream({ passphrase: opts.passphrase ?? PASS, iterations: opts.iterations ?? ITER, ...(opts.salt ? { salt: opts.salt } : {}) }),
    out.sink,
  );
  return out.bytes();
}

async function decrypt(data: Buffer, opts: Partial<DecryptOptions> & { sizes?: number[] } = {}): Promise<{ plain: Buffer; kdf: KdfSpec | undefined }> {
  const out = collector();
  const dec = createDecryptStream({
    passphrase: opts.passphrase ?? PASS,
    candidates: opts.candidates ?? kdfCandidates(pbkdf2Kdf(ITER)),
    ...(opts.looksRight ? { looksRight: opts.looksRight } : {}),
  });
  await pipeline(Readable.from(chunked(data, opts.sizes ?? [65536])), dec, out.sink);
  return { plain: out.bytes(), kdf: dec.kdf };
}

/** Runs a decrypt that must fail; returns the error and how many plaintext bytes came out. */
async function decryptFailure(data: Buffer, opts: Partial<DecryptOptions> = {}): Promise<{ err: unknown; emitted: number }> {
  const out = collector();
  const dec = createDecryptStream({ passphrase: opts.passphrase ?? PASS, candidates: opts.candidates ?? kdfCandidates(pbkdf2Kdf(ITER)), ...(opts.looksRight ? { looksRight: opts.looksRight } : {}) });
  let err: unknown;
  try {
    await pipeline(Readable.from(chunked(data, [4096])), dec, out.sink);
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, "decrypt should have failed");
  return { err, emitted: out.count() };
}

function assertCode(err: unknown, code: ErrorCode, message: RegExp): void {
  assert.ok(isWorkspaceSyncError(err, code), `expected ${code}, got ${String(err)}`);
  assert.match((err as Error).message, message);
  assert.ok(!(err as Error).message.includes(PASS), "message must not contain the passphrase");
}

describe("encrypt/decrypt round trip", () => {
  for (const size of [0, 1, 15, 16, 17, 31, 32, 33, 4095, 65537, 3 * 1024 * 1024 + 7]) {
    it(`${size} bytes`, async () => {
      const data = randomBytes(size);
      const enc = await encrypt(data);
      assert.equal(enc.subarray(0, 8).toString("latin1"), "Salted__");
      // PKCS#7 always adds 1..16 bytes.
      assert.equal(enc.length, 16 + (Math.floor(size / 16) + 1) * 16);
      const { plain, kdf } = await decrypt(enc, { looksRight: anyPlaintext });
      assert.ok(plain.equals(data));
      assert.deepEqual(kdf, pbkdf2Kdf(ITER));
    });
  }

  it("survives odd chunking on both sides (1-byte writes through the header and first block)", async () => {
    const data = gzipSync(randomBytes(200_000));
    const enc = await encrypt(data, { sizes: [1, 2, 3, 5, 7, 11, 13, 1000, 17] });
    const { plain } = await decrypt(enc, { sizes: [1, 1, 1, 1, 1, 3, 5, 7, 9, 15, 16, 17, 4096] });
    assert.ok(plain.equals(data));
  });

  it("through files on disk", async () => {
    const dir = await mkdtemp(join(tmpdir(), "crypto-rt-"));
    try {
      const data = randomBytes(5 * 1024 * 1024 + 3);
      await writeFile(join(dir, "plain"), data);
      const enc = createEncryptStream({ passphrase: PASS, iterations: ITER });
      await pipeline(createReadStream(join(dir, "plain")), enc, createWriteStream(join(dir, "plain.enc")));
      assert.deepEqual(enc.kdf, pbkdf2Kdf(ITER));
      assert.equal(enc.bytesOut, (await readFile(join(dir, "plain.enc"))).length);
      const dec = createDecryptStream({ passphrase: PASS, candidates: [pbkdf2Kdf(ITER)], looksRight: anyPlaintext });
      await pipeline(createReadStream(join(dir, "plain.enc")), dec, createWriteStream(join(dir, "plain.out")));
      assert.ok((await readFile(join(dir, "plain.out"))).equals(data));
      assert.deepEqual(dec.kdf, pbkdf2Kdf(ITER));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("uses a fresh random salt each time, and the given one when passed", async () => {
    const data = Buffer.from("same plaintext");
    const a = await encrypt(data);
    const b = await encrypt(data);
    assert.notDeepEqual(a.subarray(8, 16), b.subarray(8, 16));
    const salt = Buffer.from("0011223344556677", "hex");
    const c = await encrypt(data, { salt });
    assert.ok(c.subarray(8, 16).equals(salt));
    // Same as node's own AES with the derived key: nothing else is mixed in.
    const { key, iv } = await deriveKeyIv(PASS, salt, pbkdf2Kdf(ITER));
    const cipher = createCipheriv("aes-256-cbc", key, iv);
    assert.ok(c.subarray(16).equals(Buffer.concat([cipher.update(data), cipher.final()])));
  });

  it("rejects bad options with typed errors", () => {
    assert.throws(() => createEncryptStream({ passphrase: "" }), (e) => isWorkspaceSyncError(e, "PASSPHRASE_MISSING"));
    assert.throws(() => createEncryptStream({ passphrase: PASS, iterations: 0 }), (e) => isWorkspaceSyncError(e, "CONFIG_INVALID"));
    assert.throws(() => createEncryptStream({ passphrase: PASS, salt: Buffer.alloc(4) }), (e) => isWorkspaceSyncError(e, "CONFIG_INVALID"));
    assert.throws(() => createDecryptStream({ passphrase: "" }), (e) => isWorkspaceSyncError(e, "PASSPHRASE_MISSING"));
    assert.throws(() => createDecryptStream({ passphrase: PASS, candidates: [] }), (e) => isWorkspaceSyncError(e, "CONFIG_INVALID"));
  });
});

describe("KDF detection", () => {
  it("picks the candidate whose first block looks like gzip, not simply the first", async () => {
    const data = gzipSync(randomBytes(10_000));
    const enc = await encrypt(data, { iterations: 1500 });
    const { plain, kdf } = await decrypt(enc, { candidates: kdfCandidates(pbkdf2Kdf(ITER)).concat([pbkdf2Kdf(1500)]) });
    assert.ok(plain.equals(data));
    assert.deepEqual(kdf, pbkdf2Kdf(1500));
  });

  it("emits a kdf event before the first plaintext byte", async () => {
    const data = gzipSync(Buffer.from("hello"));
    const enc = await encrypt(data);
    const events: string[] = [];
    const dec = createDecryptStream({ passphrase: PASS, candidates: [pbkdf2Kdf(ITER)] });
    dec.on("kdf", () => events.push("kdf"));
    dec.on("data", () => events.push("data"));
    await pipeline(Readable.from([enc]), dec);
    assert.equal(events[0], "kdf");
    assert.ok(events.includes("data"));
  });
});

describe("decrypt failures", () => {
  let gz: Buffer;
  let enc: Buffer;
  before(async () => {
    // Fixed salt and plaintext: the truncation cases below are deterministic.
    gz = gzipSync(Buffer.from("workspace ".repeat(5000) + Array.from({ length: 3000 }, (_, i) => i * 7919).join(",")));
    enc = await encrypt(gz, { salt: Buffer.from("5a17ed5a17ed5a17", "hex") });
    assert.ok(enc.length > 200);
  });

  it("wrong passphrase: WRONG_PASSPHRASE and zero bytes emitted", async () => {
    const { err, emitted } = await decryptFailure(enc, { passphrase: "not the passphrase" });
    assertCode(err, "WRONG_PASSPHRASE", /^wrong passphrase: the snapshot could not be decrypted with the configured passphrase/);
    assert.match((err as Error).message, /pbkdf2-sha256-1000, pbkdf2-sha256-100000, evp-sha256, evp-md5/);
    assert.equal(emitted, 0);
  });

  it("right passphrase but the KDF is not among the candidates: WRONG_PASSPHRASE", async () => {
    const { err, emitted } = await decryptFailure(enc, { candidates: kdfCandidates() });
    assertCode(err, "WRONG_PASSPHRASE", /wrong passphrase/);
    assert.equal(emitted, 0);
  });

  it("cut mid-block: SNAPSHOT_CORRUPT", async () => {
    const { err } = await decryptFailure(enc.subarray(0, enc.length - 5));
    assertCode(err, "SNAPSHOT_CORRUPT", /^snapshot is truncated or corrupted: the ciphertext ends mid-block/);
  });

  it("cut at a block boundary before the last block: SNAPSHOT_CORRUPT", async () => {
    for (const blocksCut of [1, 2, 5]) {
      const { err } = await decryptFailure(enc.subarray(0, enc.length - 16 * blocksCut));
      assertCode(err, "SNAPSHOT_CORRUPT", /^snapshot is truncated or corrupted: the last block has invalid padding/);
    }
  });

  it("header only, or header and part of a block: SNAPSHOT_CORRUPT", async () => {
    for (const n of [16, 20, 31]) {
      const { err, emitted } = await decryptFailure(enc.subarray(0, n));
      assertCode(err, "SNAPSHOT_CORRUPT", /^snapshot is truncated or corrupted: no complete cipher block/);
      assert.equal(emitted, 0);
    }
  });

  it("shorter than the header: SNAPSHOT_CORRUPT", async () => {
    for (const n of [3, 8, 12, 15]) {
      const { err } = await decryptFailure(enc.subarray(0, n));
      assertCode(err, "SNAPSHOT_CORRUPT", /^snapshot is truncated or corrupted: only \d+ bytes, shorter than the 16-byte header/);
    }
    const { err } = await decryptFailure(Buffer.alloc(0));
    assertCode(err, "SNAPSHOT_CORRUPT", /the file is empty/);
  });

  it("missing magic (a plain .tar.gz, or junk): SNAPSHOT_CORRUPT not-OpenSSL", async () => {
    for (const data of [gz, Buffer.from("Salted_!" + "x".repeat(100)), Buffer.from("nope")]) {
      const { err, emitted } = await decryptFailure(data);
      assertCode(err, "SNAPSHOT_CORRUPT", /^not an OpenSSL-encrypted snapshot/);
      assert.equal(emitted, 0);
    }
  });

  it("a corrupted middle block decrypts without a crypto error (CBC is unauthenticated)", async () => {
    // Documented limit: gzip's CRC or the recorded SHA-256 must catch this downstream.
    const bad = Buffer.from(enc);
    const at = 16 + 16 * 4 + 3;
    bad[at] = (bad[at] as number) ^ 0xff;
    const { plain } = await decrypt(bad);
    assert.equal(plain.length, gz.length);
    assert.ok(!plain.equals(gz));
    // Only the damaged block and the byte after it in the next block differ.
    assert.ok(plain.subarray(0, 16 * 4).equals(gz.subarray(0, 16 * 4)));
    assert.ok(plain.subarray(16 * 6).equals(gz.subarray(16 * 6)));
  });

  it("puts the snapshot path on errors", async () => {
    const dec = createDecryptStream({ passphrase: "wrong", candidates: [pbkdf2Kdf(ITER)], path: "backup-20260101T000000Z.tar.gz.enc" });
    await assert.rejects(pipeline(Readable.from([enc]), dec, collector().sink), (e) => {
      return isWorkspaceSyncError(e, "WRONG_PASSPHRASE") && e.path === "backup-20260101T000000Z.tar.gz.enc";
    });
  });
});

/** A source of `size`-byte chunks that calls `probe()` at each step and ends when it returns false. */
function endless(size: number, probe: () => boolean): Readable {
  const chunk = randomBytes(size);
  return new Readable({
    read() {
      this.push(probe() ? chunk : null);
    },
  });
}

describe("abort and backpressure", () => {
  it("encrypt: aborting the pipeline signal stops an endless stream", async () => {
    const ac = new AbortController();
    let seen = 0;
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        seen += chunk.length;
        if (seen > 4 * 1024 * 1024) ac.abort();
        cb();
      },
    });
    const enc = createEncryptStream({ passphrase: PASS, iterations: ITER });
    await assert.rejects(pipeline(endless(65536, () => true), enc, sink, { signal: ac.signal }), { name: "AbortError" });
    assert.ok(enc.destroyed);
  });

  it("decrypt: aborting while the key is being derived fails the pipeline, no output", async () => {
    const enc = await encrypt(gzipSync(randomBytes(1000)), { iterations: 100_000 });
    const ac = new AbortController();
    const out = collector();
    const dec = createDecryptStream({ passphrase: PASS });
    const done = pipeline(Readable.from([enc]), dec, out.sink, { signal: ac.signal });
    await tick();
    ac.abort();
    await assert.rejects(done, { name: "AbortError" });
    // Let the in-flight PBKDF2 finish: the destroyed stream must stay silent.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(out.count(), 0);
    assert.ok(dec.destroyed);
  });

  it("decrypt: aborting mid-stream stops it", async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const encd = await encrypt(data);
    const ac = new AbortController();
    let seen = 0;
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        seen += chunk.length;
        if (seen > 1024 * 1024) ac.abort();
        cb();
      },
    });
    await assert.rejects(
      pipeline(Readable.from(chunked(encd, [65536])), createDecryptStream({ passphrase: PASS, candidates: [pbkdf2Kdf(ITER)], looksRight: anyPlaintext }), sink, { signal: ac.signal }),
      { name: "AbortError" },
    );
    assert.ok(seen < data.length);
  });

  it("encrypt holds a bounded amount in memory when the consumer is slow", async () => {
    const enc = createEncryptStream({ passphrase: PASS, iterations: ITER });
    let maxBuffered = 0;
    let produced = 0;
    const src = endless(65536, () => {
      maxBuffered = Math.max(maxBuffered, enc.readableLength + enc.writableLength);
      produced += 65536;
      return produced <= 32 * 1024 * 1024;
    });
    const sink = new Writable({
      highWaterMark: 65536,
      write(_chunk: Buffer, _e, cb) {
        setImmediate(cb);
      },
    });
    await pipeline(src, enc, sink);
    assert.ok(maxBuffered <= 1024 * 1024, `buffered ${maxBuffered} bytes`);
    assert.equal(enc.bytesOut, 16 + 32 * 1024 * 1024 + 16);
  });
});

describe("hash stream", () => {
  it("passes bytes through unchanged and reports their SHA-256 after the end", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const h = createHashStream();
    assert.equal(h.digest, undefined);
    const out = collector();
    await pipeline(Readable.from(chunked(data, [1, 100, 65536, 7])), h, out.sink);
    assert.ok(out.bytes().equals(data));
    assert.equal(h.digest, createHash("sha256").update(data).digest("hex"));
    assert.equal(h.bytes, data.length);
  });

  it("hashes empty input", async () => {
    const h = createHashStream();
    await pipeline(Readable.from([]), h, collector().sink);
    assert.equal(h.digest, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("checks an expected digest: passes on match, INTEGRITY_MISMATCH on mismatch", async () => {
    const data = Buffer.from("snapshot bytes");
    const good = createHash("sha256").update(data).digest("hex");
    await pipeline(Readable.from([data]), createHashStream({ expected: good.toUpperCase() }), collector().sink);
    const bad = good.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    await assert.rejects(pipeline(Readable.from([data]), createHashStream({ expected: bad, path: "snap.enc" }), collector().sink), (e) => {
      return isWorkspaceSyncError(e, "INTEGRITY_MISMATCH") && e.path === "snap.enc";
    });
  });
});
