/**
 * S3 under network faults, through the fault proxy in front of the real RGW: a connection dropped
 * in the middle of a multipart part costs one extra UploadPart (never a new multipart upload), a
 * 503 storm during listing is ridden out (or ends in a clear retryable error, never in an "empty"
 * listing), 429 answers wait out Retry-After, and a storm that throttles every request twice does
 * not exhaust the retries of a long run; a snapshot download cut short never restores.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { GetObjectCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { runBackup, runRestore } from "../src/backup/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import { s3, startFaultProxy } from "./support/fault-proxy.js";
import { s3TestSettings, testS3Client } from "./support/s3.js";
import { mapLimit } from "../src/util/concurrency.js";
import { tempDir, treeDiff, treeFingerprint, writeTree } from "./support/tree.js";

const MiB = 1024 * 1024;

async function sha256Of(stream: AsyncIterable<unknown>): Promise<string> {
  const h = createHash("sha256");
  for await (const c of stream) h.update(c as Buffer);
  return h.digest("hex");
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A stream of `size` random bytes in 1 MiB chunks, plus its SHA-256. */
function randomSource(size: number): { stream: Readable; sha256: string } {
  const data = randomBytes(size);
  const chunks: Buffer[] = [];
  for (let i = 0; i < size; i += MiB) chunks.push(data.subarray(i, i + MiB));
  return { stream: Readable.from(chunks), sha256: createHash("sha256").update(data).digest("hex") };
}

test("a connection dropped mid-part costs one extra UploadPart, not a new multipart upload", async (t) => {
  const settings = await s3TestSettings(t);
  if (!settings) return;
  const proxy = await startFaultProxy({ target: settings.endpoint! });
  t.after(() => proxy.close());
  // Part 2's first attempt: take 1 MiB of its body, then cut the connection.
  proxy.add({ ...s3.uploadPart(2), action: { kind: "drop-request", afterBytes: MiB } });
  // Part 3's first answer is lost after RGW stored it: the retry re-sends the same part.
  proxy.add({ ...s3.uploadPart(3), action: { kind: "drop-response", afterBytes: 0 } });
  const p = createS3Provider({ ...settings, endpoint: proxy.endpoint, partSizeMiB: 5, queueSize: 2, maxRetrySeconds: 5 }, { logger: silentLogger });
  t.after(() => p.close?.());

  const { stream, sha256 } = randomSource(17 * MiB); // 4 parts: 5 + 5 + 5 + 2 MiB
  const stored = await p.write("big/object.bin", stream, { sizeHint: 17 * MiB });
  assert.equal(stored.size, 17 * MiB);
  assert.equal(proxy.faults(), 2, "both faults were injected");
  assert.equal(proxy.count(s3.createMultipart()), 1, "one multipart upload");
  assert.equal(proxy.count(s3.uploadPart()), 4 + 2, "four parts plus one re-send per fault");
  assert.equal(proxy.count(s3.uploadPart(1)), 1);
  assert.equal(proxy.count(s3.uploadPart(2)), 2);
  assert.equal(proxy.count(s3.uploadPart(3)), 2);
  assert.equal(proxy.count(s3.uploadPart(4)), 1);
  assert.equal(proxy.count(s3.completeMultipart()), 1);

  // What is stored is exactly what was sent, and no upload is left pending.
  const raw = testS3Client(t, settings);
  const got = await raw.send(new GetObjectCommand({ Bucket: settings.bucket, Key: "big/object.bin" }));
  assert.equal(await sha256Of(got.Body as Readable), sha256);
  const pending = await raw.send(new ListMultipartUploadsCommand({ Bucket: settings.bucket }));
  assert.equal(pending.Uploads?.length ?? 0, 0);
});

test("a part that keeps failing past the retry budget fails the write cleanly: no object, no pending upload", async (t) => {
  const settings = await s3TestSettings(t);
  if (!settings) return;
  const proxy = await startFaultProxy({ target: settings.endpoint! });
  t.after(() => proxy.close());
  proxy.add({ ...s3.uploadPart(2), action: { kind: "drop-request", afterBytes: 64 * 1024 }, times: Infinity });
  const p = createS3Provider({ ...settings, endpoint: proxy.endpoint, partSizeMiB: 5, queueSize: 1, maxRetrySeconds: 0.5 }, { logger: silentLogger });
  t.after(() => p.close?.());
  const { stream } = randomSource(12 * MiB);
  await assert.rejects(p.write("doomed.bin", stream, { sizeHint: 12 * MiB }), (err: unknown) => isWorkspaceSyncError(err, "NETWORK") && err.retryable && /doomed\.bin/.test(err.message));
  assert.ok(proxy.count(s3.uploadPart(2)) > 1, "the part was retried before giving up");
  assert.equal(proxy.count(s3.createMultipart()), 1);
  assert.equal(await p.stat("doomed.bin"), undefined);
  const raw = testS3Client(t, settings);
  const pending = await raw.send(new ListMultipartUploadsCommand({ Bucket: settings.bucket }));
  assert.equal(pending.Uploads?.length ?? 0, 0, "the multipart upload was aborted");
});

test("a 503 SlowDown storm during listing is ridden out; one that outlasts the budget is an error, never an empty listing", async (t) => {
  const settings = await s3TestSettings(t);
  if (!settings) return;
  const seed = createS3Provider(settings, { logger: silentLogger });
  t.after(() => seed.close?.());
  await mapLimit(Array.from({ length: 30 }, (_, i) => i), 8, async (i) => {
    await seed.write(`docs/f${i}.txt`, Readable.from([Buffer.from(`file ${i}`)]));
  });

  const proxy = await startFaultProxy({ target: settings.endpoint! });
  t.after(() => proxy.close());
  proxy.add({ ...s3.list(), action: { kind: "status", status: 503, code: "SlowDown" }, times: 4 });
  const p = createS3Provider({ ...settings, endpoint: proxy.endpoint, maxRetrySeconds: 5 }, { logger: silentLogger });
  t.after(() => p.close?.());
  assert.equal((await collect(p.list("docs"))).length, 30);
  assert.equal(proxy.count(s3.list()), 5);

  proxy.add({ ...s3.list(), action: { kind: "status", status: 503, code: "SlowDown" }, times: Infinity });
  const short = createS3Provider({ ...settings, endpoint: proxy.endpoint, maxRetrySeconds: 0.3 }, { logger: silentLogger });
  t.after(() => short.close?.());
  await assert.rejects(collect(short.list("docs")), (err: unknown) => isWorkspaceSyncError(err, "RATE_LIMITED") && err.retryable && /SlowDown/.test(err.message));
});

test("429 with Retry-After is waited out before the retry", async (t) => {
  const settings = await s3TestSettings(t);
  if (!settings) return;
  const proxy = await startFaultProxy({ target: settings.endpoint! });
  t.after(() => proxy.close());
  proxy.add({ ...s3.putObject(), action: { kind: "status", status: 429, code: "TooManyRequests", retryAfter: 1 } });
  const p = createS3Provider({ ...settings, endpoint: proxy.endpoint, maxRetrySeconds: 10 }, { logger: silentLogger });
  t.after(() => p.close?.());
  await p.write("patient.txt", Readable.from([Buffer.from("waited")]));
  const puts = proxy.log.filter((r) => r.method === "PUT");
  assert.equal(puts.length, 2);
  assert.ok(puts[1]!.at - puts[0]!.at >= 950, `the retry came ${puts[1]!.at - puts[0]!.at} ms after a 1 s Retry-After`);
});

test("a snapshot download cut short (bad length, or a consistent short body) fails the restore and leaves no staging folder", async (t) => {
  const settings = await s3TestSettings(t);
  if (!settings) return;
  const { dir, cleanup } = await tempDir("ws-faults-s3-");
  t.after(cleanup);
  const ws = path.join(dir, "workspace");
  await writeTree(ws, { "a.txt": "alpha\n", "data/blob.bin": randomBytes(2 * MiB) });
  const proxy = await startFaultProxy({ target: settings.endpoint! });
  t.after(() => proxy.close());
  const s3Config = { endpoint: proxy.endpoint, region: settings.region, accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, forcePathStyle: true, maxRetrySeconds: 1 };
  const syncConfig = { backup: { enabled: true, provider: "s3", s3: s3Config, bucket: settings.bucket, encrypt: true, passphrase: "trunc ✓", include: ["workspace"] } };
  const stateDir = path.join(dir, "state");
  // A slow listing and a slow first upload request change nothing.
  proxy.add({ ...s3.list(), action: { kind: "delay", ms: 300 } });
  const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir });
  assert.ok(b.ok, JSON.stringify(b));

  const cases = [
    // Which check sees a cut first depends on timing; the MAC file's recorded size names it exactly.
    { action: { kind: "truncate", bytes: 100_000 } as const, codes: ["NETWORK", "SNAPSHOT_CORRUPT", "SNAPSHOT_TRUNCATED"] },
    { action: { kind: "truncate", bytes: 100_000, fixLength: true } as const, codes: ["INTEGRITY_MISMATCH", "SNAPSHOT_CORRUPT", "SNAPSHOT_TRUNCATED"] },
    { action: { kind: "drop-response", afterBytes: 64 * 1024 } as const, codes: ["NETWORK"] },
  ];
  for (const [i, c] of cases.entries()) {
    proxy.add({ ...s3.getObject(b.snapshotName), action: c.action });
    const target = path.join(dir, `restore-${i}`);
    const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir, snapshotName: b.snapshotName, restoreTo: target });
    assert.equal(r.ok, false, `${c.action.kind} must fail the restore`);
    assert.ok(!r.ok && c.codes.includes(r.code), `${c.action.kind}: ${!r.ok ? `${r.code} ${r.error}` : ""}`);
    await assert.rejects(fsp.access(target), "the staging folder was removed");
  }
  const ok = await runRestore({ syncConfig, workspaceDir: ws, stateDir, snapshotName: b.snapshotName, restoreTo: path.join(dir, "restored") });
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.deepEqual(treeDiff(await treeFingerprint(ws), await treeFingerprint(path.join(dir, "restored", "workspace"))), []);
});

test("a lost answer to a no-overwrite upload (If-None-Match) is not mistaken for someone else's object", async (t) => {
  const settings = await s3TestSettings(t);
  if (!settings) return;
  const proxy = await startFaultProxy({ target: settings.endpoint! });
  t.after(() => proxy.close());
  const p = createS3Provider({ ...settings, endpoint: proxy.endpoint, partSizeMiB: 5, maxRetrySeconds: 5 }, { logger: silentLogger });
  t.after(() => p.close?.());
  // Single PutObject: RGW stores it, the answer is lost, the SDK retries and meets If-None-Match.
  proxy.add({ ...s3.putObject(), action: { kind: "drop-response" } });
  const small = await p.write("snap-small.bin", Readable.from([Buffer.from("small snapshot")]), { overwrite: false });
  assert.equal(small.size, 14);
  // Multipart: CompleteMultipartUpload's answer is lost.
  proxy.add({ ...s3.completeMultipart(), action: { kind: "drop-response" } });
  const { stream, sha256 } = randomSource(12 * MiB);
  const big = await p.write("snap-big.bin", stream, { overwrite: false, sizeHint: 12 * MiB });
  assert.equal(big.size, 12 * MiB);
  assert.equal(proxy.faults(), 2);
  assert.equal(await sha256Of(await p.read("snap-big.bin")), sha256);
  // Someone else's object is still refused.
  await assert.rejects(p.write("snap-small.bin", Readable.from([Buffer.from("other")]), { overwrite: false }), (err: unknown) => isWorkspaceSyncError(err, "ALREADY_EXISTS"));
});
