/**
 * The snapshot decode stages on their worker thread (crypto/decode-thread.ts) against the same
 * stages on this thread: same bytes out, same findings, same typed errors, bounded buffering, and
 * an abort that stops the thread. The worker is the path every restore and verify takes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import { createEncryptStream, prependAuthMarker, pbkdf2Kdf } from "../src/crypto/index.js";
import { createSnapshotDecoder, type SnapshotDecoderOptions } from "../src/backup/decode-thread.js";
import { RestoreThread } from "../src/backup/restore-thread.js";
import type { MessagePort } from "node:worker_threads";
import type { SnapshotDecodeSpec } from "../src/backup/decode-stages.js";
import { WorkspaceSyncError, isWorkspaceSyncError } from "../src/errors.js";

const PASS = "decode thread passphrase";
const ITER = 1000;
const candidates = [pbkdf2Kdf(ITER)];

async function encrypt(plain: Buffer, marked = false): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline([
    Readable.from([plain]),
    ...(marked ? [prependAuthMarker()] : []),
    createEncryptStream({ passphrase: PASS, iterations: ITER }),
    new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
    }),
  ]);
  return Buffer.concat(parts);
}

/** Owned buffers, views into one big buffer, and tiny pieces, in turn: every transfer path. */
function mixedChunks(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const sizes = [5, 40, 70_000, 3, 1 << 20, 9000, 200_000];
  let i = 0;
  let k = 0;
  while (i < data.length) {
    const n = sizes[k++ % sizes.length] as number;
    const piece = data.subarray(i, i + n);
    // Every other piece is a copy of its own (transferable), the others stay views.
    out.push(k % 2 === 0 ? Buffer.from(piece) : piece);
    i += n;
  }
  return out;
}

interface Decoded {
  out: Buffer;
  decoder: ReturnType<typeof createSnapshotDecoder>;
}

async function decode(chunks: Buffer[], spec: SnapshotDecodeSpec, options: SnapshotDecoderOptions = {}, signal?: AbortSignal): Promise<Decoded> {
  const decoder = createSnapshotDecoder(spec, options);
  const parts: Buffer[] = [];
  await pipeline(
    [
      Readable.from(chunks),
      ...decoder.stages,
      new Writable({
        write(c: Buffer, _e, cb) {
          parts.push(Buffer.from(c));
          cb();
        },
      }),
    ],
    ...(signal ? [{ signal }] : []),
  );
  return { out: Buffer.concat(parts), decoder };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail("expected a failure");
}

describe("snapshot decoding on its worker thread", () => {
  const plain = gzipSync(randomBytes(3 * 1024 * 1024 + 77));

  it("gives the same bytes and findings as the stages on this thread, whatever the chunking", async () => {
    const stored = await encrypt(plain);
    const key = randomBytes(32);
    const spec: SnapshotDecodeSpec = { check: { kind: "mac", key }, decrypt: { passphrase: PASS, candidates }, path: "s.tar.gz.enc" };
    const off = await decode(mixedChunks(stored), spec);
    const here = await decode(mixedChunks(stored), spec, { offThread: false });
    assert.equal(off.decoder.offThread, true, "the compiled worker module is next to decode-thread.js");
    assert.equal(here.decoder.offThread, false);
    assert.ok(off.out.equals(plain));
    assert.ok(here.out.equals(plain));
    const a = off.decoder.result();
    const b = here.decoder.result();
    assert.equal(a?.bytes, stored.length);
    assert.deepEqual(a?.tag, createHmac("sha256", key).update(stored).digest());
    assert.deepEqual(a, b);
    assert.deepEqual(off.decoder.kdf(), candidates[0]);
    assert.equal(a?.marked, false);
  });

  it("hashes an unencrypted snapshot and passes it through unchanged", async () => {
    const digest = createHash("sha256").update(plain).digest("hex");
    const { out, decoder } = await decode(mixedChunks(plain), { check: { kind: "sha256", expected: digest }, path: "s.tar.gz" });
    assert.ok(out.equals(plain));
    assert.equal(decoder.result()?.digest, digest);
  });

  it("reads what openssl enc wrote", async () => {
    const stored = execFileSync("openssl", ["enc", "-aes-256-cbc", "-salt", "-pbkdf2", "-iter", String(ITER), "-pass", "env:WS_TEST_PASS"], {
      input: plain,
      env: { ...process.env, WS_TEST_PASS: PASS },
      maxBuffer: 64 * 1024 * 1024,
    });
    const { out } = await decode([stored], { check: { kind: "sha256" }, decrypt: { passphrase: PASS, candidates }, path: "cli.tar.gz.enc" });
    assert.ok(out.equals(plain));
  });

  it("reports the stages' errors typed, with their codes and paths", async () => {
    const stored = await encrypt(plain);
    const wrong = await failure(decode([stored], { check: { kind: "sha256" }, decrypt: { passphrase: "not it", candidates }, path: "w.tar.gz.enc" }));
    assert.ok(isWorkspaceSyncError(wrong, "WRONG_PASSPHRASE"), String(wrong));
    assert.equal((wrong as WorkspaceSyncError).path, "w.tar.gz.enc");

    const cut = await failure(decode([stored.subarray(0, stored.length - 7)], { check: { kind: "sha256" }, decrypt: { passphrase: PASS, candidates }, path: "c" }));
    assert.ok(isWorkspaceSyncError(cut, "SNAPSHOT_CORRUPT"), String(cut));

    const mismatch = await failure(decode([plain], { check: { kind: "sha256", expected: "00".repeat(32) }, path: "m.tar.gz" }));
    assert.ok(isWorkspaceSyncError(mismatch, "INTEGRITY_MISMATCH"), String(mismatch));
    assert.equal((mismatch as WorkspaceSyncError).path, "m.tar.gz");
  });

  it("refuses a marked stream before passing anything on", async () => {
    const stored = await encrypt(plain, true);
    for (const offThread of [true, false]) {
      const got: Buffer[] = [];
      const decoder = createSnapshotDecoder(
        { check: { kind: "sha256" }, decrypt: { passphrase: PASS, candidates }, path: "x" },
        { offThread, refuseMarked: () => new WorkspaceSyncError("SNAPSHOT_UNAUTHENTICATED", "marked without a MAC") },
      );
      const err = await failure(
        pipeline([
          Readable.from(mixedChunks(stored)),
          ...decoder.stages,
          new Writable({
            write(c: Buffer, _e, cb) {
              got.push(c);
              cb();
            },
          }),
        ]),
      );
      assert.ok(isWorkspaceSyncError(err, "SNAPSHOT_UNAUTHENTICATED"), `${offThread}: ${String(err)}`);
      assert.equal(got.length, 0, `offThread ${offThread}: nothing after the mark is passed on`);
    }
    // Not refused: the mark is removed and the rest is the archive.
    const { out, decoder } = await decode([stored], { check: { kind: "sha256" }, decrypt: { passphrase: PASS, candidates }, path: "x" });
    assert.ok(out.equals(plain));
    assert.equal(decoder.result()?.marked, true);
  });

  it("does not run ahead of a slow reader", async () => {
    const big = randomBytes(48 * 1024 * 1024);
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < big.length; i += 1 << 20) {
          const c = Buffer.from(big.subarray(i, i + (1 << 20)));
          pulled += c.length;
          yield c;
        }
      })(),
    );
    const decoder = createSnapshotDecoder({ check: { kind: "sha256" }, path: "slow" });
    let consumed = 0;
    let maxAhead = 0;
    await pipeline([
      source,
      ...decoder.stages,
      new Writable({
        highWaterMark: 64 * 1024,
        write(c: Buffer, _e, cb) {
          consumed += c.length;
          maxAhead = Math.max(maxAhead, pulled - consumed);
          // The first megabytes slowly: the thread must wait rather than read everything.
          if (consumed < 8 * 1024 * 1024) setTimeout(cb, 5);
          else cb();
        },
      }),
    ]);
    assert.equal(consumed, big.length);
    assert.ok(maxAhead < 16 * 1024 * 1024, `read ahead of the reader: ${(maxAhead / 2 ** 20).toFixed(1)} MiB`);
  });

  it("ends the decoding on the thread on abort", async () => {
    const ac = new AbortController();
    const endless = new Readable({
      read() {
        this.push(randomBytes(256 * 1024));
      },
    });
    const thread = RestoreThread.start();
    assert.ok(thread);
    // The port the decoder gets, to see it closed.
    const ports: MessagePort[] = [];
    const decode = thread.decode.bind(thread);
    thread.decode = (data) => {
      const port = decode(data);
      ports.push(port);
      return port;
    };
    const closed = new Promise<void>((resolve) => setImmediate(() => ports[0]?.once("close", resolve)));
    try {
      const decoder = createSnapshotDecoder({ check: { kind: "sha256" }, path: "endless" }, { thread });
      const run = pipeline([endless, ...decoder.stages, new Writable({ write: (_c, _e, cb) => cb() })], { signal: ac.signal });
      await sleep(50);
      ac.abort();
      const err = await failure(run);
      assert.equal((err as { name?: string }).name, "AbortError");
      assert.equal(ports.length, 1);
      await closed;
    } finally {
      await thread.close();
    }
  });
});
