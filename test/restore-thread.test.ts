/**
 * A restore's one helper thread (src/backup/restore-thread.ts) serves both the snapshot decoder
 * and the small-file writer. What must hold: an extraction through it writes what it writes on a
 * thread of its own, a closed writer writes nothing more, and a thread that goes away fails
 * whoever was using it rather than leaving them waiting.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { extractArchive } from "../src/archive/index.js";
import { SmallFileWriter } from "../src/archive/small-file-writer.js";
import { createSnapshotDecoder } from "../src/backup/decode-thread.js";
import { RestoreThread } from "../src/backup/restore-thread.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { type RawEntry, bufferStream, makeTarGz, mkTmp, rmTmp } from "./archive-helpers.js";
import { countThreads } from "./support/threads.js";

function started(): RestoreThread {
  const t = RestoreThread.start();
  assert.ok(t, "the compiled restore-worker module is next to restore-thread.js");
  return t;
}

describe("the restore helper thread", () => {
  let tmp = "";
  before(async () => {
    tmp = await mkTmp("ws-restore-thread-");
  });
  after(async () => {
    await rmTmp(tmp);
  });

  it("extracts through the shared thread exactly as through a thread of the extractor's own", async () => {
    const entries: RawEntry[] = [{ header: { name: "d", type: "directory" } }];
    for (let i = 0; i < 400; i++) entries.push({ header: { name: `d/f${i}`, mode: 0o640 }, content: `${i}\n`.repeat(i % 97) });
    entries.push({ header: { name: "d/f5", mode: 0o600 }, content: "replaced" });
    const tgz = await makeTarGz(entries);
    const thread = started();
    try {
      const shared = await extractArchive(bufferStream(tgz), path.join(tmp, "shared"), { fileThread: thread });
      const own = await extractArchive(bufferStream(tgz), path.join(tmp, "own"));
      assert.deepEqual(shared, own);
      for (const i of [0, 5, 96, 399]) {
        const a = await fs.readFile(path.join(tmp, "shared/d", `f${i}`), "utf8");
        assert.equal(a, await fs.readFile(path.join(tmp, "own/d", `f${i}`), "utf8"));
      }
      assert.equal(await fs.readFile(path.join(tmp, "shared/d/f5"), "utf8"), "replaced");
      // The thread serves a second job after the first: a decoder, on the same thread.
      const plain = randomBytes(200_000);
      const decoder = createSnapshotDecoder({ check: { kind: "sha256" }, path: "x" }, { thread });
      assert.equal(decoder.offThread, true);
      const got: Buffer[] = [];
      await pipeline([Readable.from([plain]), ...decoder.stages, new Writable({ write: (c: Buffer, _e, cb) => (got.push(c), cb()) })]);
      assert.ok(Buffer.concat(got).equals(plain));
    } finally {
      await thread.close();
    }
  });

  for (const hosted of [true, false]) {
    it(`writes nothing more once the writer is closed (${hosted ? "shared thread" : "own thread"})`, async () => {
      const dir = path.join(tmp, `closed-${hosted}`);
      await fs.mkdir(dir);
      const { threads } = await countThreads(async () => {
        const thread = hosted ? started() : undefined;
        try {
          const writer = new SmallFileWriter(() => {}, thread);
          // Three full batches queued (128 files each, within the writer's 1 MiB queue), and a
          // fourth not yet sent: close() comes while the thread is busy with them. A writer without
          // a host writes its first 256 files itself, before it starts a thread of its own.
          const inline = hosted ? 0 : 256;
          const body = Buffer.alloc(2000, 1);
          for (let i = 0; i < inline + 400; i++) writer.write(path.join(dir, `f${i}`), `f${i}`, [body], body.length, 0o644, undefined);
          await writer.close();
          const n = (await fs.readdir(dir)).length;
          await sleep(300);
          assert.equal((await fs.readdir(dir)).length, n, "no file appeared after close() settled");
        } finally {
          await thread?.close();
        }
      });
      // One thread either way: the host, or the writer's own (none more for the writer).
      assert.equal(threads, 1);
    });
  }

  it("an extraction without a helper thread starts one of its own only past its first 256 small files", async () => {
    const archive = async (files: number, size: number): Promise<Buffer> => {
      const entries: RawEntry[] = [{ header: { name: "d", type: "directory" } }];
      for (let i = 0; i < files; i++) entries.push({ header: { name: `d/f${i}` }, content: `${i}\n`.padEnd(size, "x") });
      return makeTarGz(entries);
    };
    // Or past its first 4 MiB of them: 17 files of 250 000 bytes are written here, 18 are not.
    for (const [files, size, threads] of [
      [256, 10, 0],
      [257, 10, 1],
      [600, 10, 1],
      [17, 250_000, 0],
      [18, 250_000, 1],
    ] as const) {
      const tgz = await archive(files, size);
      const out = path.join(tmp, `own-${files}-${size}`);
      const { value: r, threads: counted } = await countThreads(() => extractArchive(bufferStream(tgz), out));
      assert.equal(r.files, files);
      assert.equal((await fs.readdir(path.join(out, "d"))).length, files);
      assert.equal(await fs.readFile(path.join(out, "d", `f${files - 1}`), "utf8"), `${files - 1}\n`.padEnd(size, "x"));
      assert.equal(counted, threads, `${files} files of ${size} bytes`);
    }
  });

  it("fails the decoder and the writer when the thread goes away, instead of leaving them waiting", async () => {
    const thread = started();
    const decoder = createSnapshotDecoder({ check: { kind: "sha256" }, path: "x" }, { thread });
    const endless = new Readable({
      read() {
        this.push(randomBytes(64 * 1024));
      },
    });
    const run = assert.rejects(pipeline([endless, ...decoder.stages, new Writable({ write: (_c, _e, cb) => cb() })]), (err: unknown) => isWorkspaceSyncError(err, "INTERNAL_ERROR"));
    const dir = path.join(tmp, "gone");
    await fs.mkdir(dir);
    const writer = new SmallFileWriter(() => {}, thread);
    writer.write(path.join(dir, "a"), "a", [Buffer.from("a")], 1, 0o644, undefined);
    await writer.barrier();
    await sleep(50);
    await thread.close();
    await run;
    // The writer notices too: the next write or barrier reports it.
    await sleep(50);
    await assert.rejects(
      (async () => {
        writer.write(path.join(dir, "b"), "b", [Buffer.from("b")], 1, 0o644, undefined);
        await writer.barrier();
      })(),
      (err: unknown) => isWorkspaceSyncError(err, "INTERNAL_ERROR") && /file-writing thread stopped/.test((err as Error).message),
    );
    // Closing a writer whose thread is gone settles (it used to wait for an answer forever).
    await writer.close();
  });

  it("fails new work on a thread that stopped by itself, instead of waiting on it", async () => {
    const thread = started();
    const dir = path.join(tmp, "crashed");
    await fs.mkdir(dir);
    // A port handed out before the thread dies, and one asked for after.
    const early = new SmallFileWriter(() => {}, thread);
    early.write(path.join(dir, "a"), "a", [Buffer.from("a")], 1, 0o644, undefined);
    await early.barrier();
    // Kill the thread from inside (as an out-of-memory stop would): a job it cannot parse.
    (thread as unknown as { connect(s: unknown): unknown }).connect(undefined);
    // (Noticed when the thread's exit reaches this one: waited for, not guessed.)
    for (let i = 0; i < 200 && thread.failure === undefined; i++) await sleep(50);
    assert.ok(thread.failure && isWorkspaceSyncError(thread.failure, "INTERNAL_ERROR"), String(thread.failure));
    await assert.rejects(
      (async () => {
        early.write(path.join(dir, "b"), "b", [Buffer.from("b")], 1, 0o644, undefined);
        await early.barrier();
      })(),
      (err: unknown) => isWorkspaceSyncError(err, "INTERNAL_ERROR"),
    );
    await early.close();
    const late = new SmallFileWriter(() => {}, thread);
    assert.throws(() => {
      late.write(path.join(dir, "c"), "c", [Buffer.from("c")], 1, 0o644, undefined);
      late.write(path.join(dir, "d"), "d", [Buffer.from("d")], 1, 0o644, undefined);
      for (let i = 0; i < 200; i++) late.write(path.join(dir, `e${i}`), `e${i}`, [Buffer.from("e")], 1, 0o644, undefined);
    }, (err: unknown) => isWorkspaceSyncError(err, "INTERNAL_ERROR"));
    await late.close();
    const decoder = (): unknown => createSnapshotDecoder({ check: { kind: "sha256" }, path: "x" }, { thread });
    assert.throws(decoder, (err: unknown) => isWorkspaceSyncError(err, "INTERNAL_ERROR"));
    await thread.close();
  });
});
