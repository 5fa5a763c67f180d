import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { silentLogger } from "../src/logger.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { startFaultProxy } from "./support/fault-proxy.js";
import { s3TestProvider, s3TestSettings } from "./support/s3.js";

const MiB = 1024 * 1024;

/** A stream of `size` random bytes in 1 MiB chunks, and the SHA-256 of what it produced. */
function randomStream(size: number): { stream: Readable; sha256: () => string } {
  const hash = createHash("sha256");
  let left = size;
  const stream = new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const chunk = randomBytes(Math.min(MiB, left));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest("hex") };
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

async function readAll(p: StorageProvider, file: string, start?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await p.read(file, start === undefined ? {} : { start })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test("50 MiB random stream: multipart write, stat, read, ranged read, delete", async (t) => {
  const fx = await s3TestProvider(t, { partSizeMiB: 5 });
  if (!fx) return;
  const { p } = fx;

  const size = 50 * MiB + 12345;
  const src = randomStream(size);
  const mtime = new Date("2024-05-06T07:08:09.123Z");
  const progress: number[] = [];
  const entry = await p.write("backups/snap one.bin", src.stream, {
    sizeHint: 20 * MiB, // an underestimate: the part size stays fixed anyway
    mtime,
    metadata: { "plain-sha256": "abc123", snapshot: "backup-20240506T070809Z.tar.gz.enc" },
    onProgress: (bytes) => progress.push(bytes),
  });
  const expected = src.sha256();
  assert.equal(entry.path, "backups/snap one.bin");
  assert.equal(entry.size, size);
  assert.equal(entry.mtime?.getTime(), mtime.getTime());
  assert.match(entry.revision ?? "", /-11$/, "11 parts of 5 MiB"); // multipart ETag: <md5>-<parts>
  assert.equal(entry.hash, undefined, "a multipart ETag is no MD5");
  assert.ok(progress.length >= 2 && progress.at(-1) === size, `progress ${progress.join(",")}`);

  const st = await p.stat("backups/snap one.bin");
  assert.deepEqual(st?.metadata, { "plain-sha256": "abc123", snapshot: "backup-20240506T070809Z.tar.gz.enc" });
  assert.equal(st?.mtime?.getTime(), mtime.getTime());
  assert.equal(st?.size, size);

  const back = await sha256Of(await p.read("backups/snap one.bin"));
  assert.deepEqual(back, { sha256: expected, size });

  const start = 30 * MiB + 7;
  const tail = await p.read("backups/snap one.bin", { start });
  const tailSize = (await sha256Of(tail)).size;
  assert.equal(tailSize, size - start);
  assert.equal((await readAll(p, "backups/snap one.bin", size)).length, 0, "resuming at the end reads nothing");

  const listed = [];
  for await (const e of p.list("backups")) listed.push(e);
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.path, "snap one.bin");
  assert.equal(listed[0]!.size, size);
  assert.ok(listed[0]!.mtime && Math.abs(listed[0]!.mtime.getTime() - Date.now()) < 10 * 60_000, "list mtime is the upload time");

  await p.delete("backups/snap one.bin");
  assert.equal(await p.stat("backups/snap one.bin"), undefined);
  await p.delete("backups/snap one.bin"); // deleting a missing file succeeds
  await assert.rejects(p.read("backups/snap one.bin"), (err: unknown) => isWorkspaceSyncError(err, "NOT_FOUND"));
});

test("small file: single PutObject, ETag is the MD5 that hashLocalFile computes", async (t) => {
  const fx = await s3TestProvider(t);
  if (!fx) return;
  const { p } = fx;
  const dir = await mkdtemp(path.join(tmpdir(), "ws-s3-"));
  t.after(() => rm(dir, { recursive: true, force: true }));

  const body = Buffer.from("hello, workspace\n".repeat(1000));
  const file = path.join(dir, "notes.md");
  await writeFile(file, body);
  const entry = await p.write("notes/notes.md", Readable.from([body]), { sizeHint: body.length });
  const local = await p.hashLocalFile!(file);
  assert.equal(local, createHash("md5").update(body).digest("hex"));
  assert.equal(entry.hash, local);
  assert.equal(entry.size, body.length);
  assert.deepEqual(entry.metadata, {});

  const listed = [];
  for await (const e of p.list("notes")) listed.push(e);
  assert.equal(listed[0]?.hash, local);
  assert.deepEqual(await readAll(p, "notes/notes.md"), body);
  assert.deepEqual(await readAll(p, "notes/notes.md", 5), body.subarray(5));

  const empty = await p.write("notes/empty", Readable.from([]));
  assert.equal(empty.size, 0);
  assert.equal((await readAll(p, "notes/empty")).length, 0);
});

test("statListed answers from the listing: a HEAD's other ETag does not show, a longer key is not the key", async (t) => {
  const settings = await s3TestSettings(t);
  if (!settings) return;
  // A gateway whose HEAD gives an ETag of its own (not a spelling of the listing's).
  const proxy = await startFaultProxy({ target: settings.endpoint! });
  t.after(() => proxy.close());
  proxy.add({ method: "HEAD", times: Infinity, action: { kind: "rewrite", headers: (h) => ({ ...h, etag: '"gateway-etag"' }) } });
  const p = createS3Provider({ ...settings, endpoint: proxy.endpoint }, { logger: silentLogger });
  t.after(() => p.close?.());
  await p.write("dir/a.txt.conflict", Readable.from([Buffer.from("longer key")]));
  assert.equal(await p.statListed!("dir/a.txt"), undefined, "only a longer key: the key itself is not there");
  await p.write("dir/a.txt", Readable.from([Buffer.from("hello")]));
  const listed = [];
  for await (const e of p.list("dir")) listed.push(e);
  const fromList = listed.find((e) => e.path === "a.txt")!;
  const one = await p.statListed!("dir/a.txt");
  assert.equal((await p.stat("dir/a.txt"))?.revision, "gateway-etag", "HEAD's ETag is the gateway's");
  assert.deepEqual(one && { size: one.size, revision: one.revision, hash: one.hash }, { size: 5, revision: fromList.revision, hash: fromList.hash });
  assert.equal(one?.path, "dir/a.txt");
});

test("statListed: an empty page with more to come is followed; a listing that fails or lags is answered by HEAD, never taken as gone", async (t) => {
  const settings = await s3TestSettings(t);
  if (!settings) return;
  const proxy = await startFaultProxy({ target: settings.endpoint! });
  t.after(() => proxy.close());
  const p = createS3Provider({ ...settings, endpoint: proxy.endpoint, maxRetrySeconds: 1 }, { logger: silentLogger });
  t.after(() => p.close?.());
  await p.write("dir/a.txt", Readable.from([Buffer.from("hello")]));
  const listed = [];
  for await (const e of p.list("dir")) listed.push(e);
  const want = { size: 5, revision: listed[0]?.revision };
  const oneKey = { method: "GET", path: /[?&]max-keys=1(&|$)/ };
  const shape = (e: { size: number; revision?: string } | undefined) => e && { size: e.size, revision: e.revision };
  // S3 may give fewer keys than asked, none at all, while more follow (RGW's token is the key to start after).
  proxy.add({ ...oneKey, action: { kind: "rewrite", body: (b) => Buffer.from(b.toString().replace(/<Contents>[\s\S]*<\/Contents>/, "").replace(/<IsTruncated>false<\/IsTruncated>/, "<IsTruncated>true</IsTruncated><NextContinuationToken>dir/</NextContinuationToken>")) } });
  assert.deepEqual(shape(await p.statListed!("dir/a.txt")), want, "the next page is read");
  assert.equal(proxy.count(oneKey), 2);
  // A listing that lags behind a write (the key not there yet): HEAD finds it.
  proxy.add({ ...oneKey, action: { kind: "rewrite", body: (b) => Buffer.from(b.toString().replace(/<Contents>[\s\S]*<\/Contents>/, "")) } });
  assert.deepEqual(shape(await p.statListed!("dir/a.txt")), want, "not listed, but HEAD has it");
  // A server that cannot list one key (a directory bucket wants a prefix ending in "/").
  proxy.add({ ...oneKey, times: Infinity, action: { kind: "status", status: 400, code: "InvalidArgument" } });
  assert.deepEqual(shape(await p.statListed!("dir/a.txt")), want, "the listing refused: HEAD answers");
  assert.equal(await p.statListed!("dir/none.txt"), undefined, "gone when HEAD says so too");
});

test("overwrite: false refuses an existing object (single and multipart) and keeps it intact", async (t) => {
  const fx = await s3TestProvider(t, { partSizeMiB: 5 });
  if (!fx) return;
  const { p } = fx;

  await p.write("a.txt", Readable.from([Buffer.from("first")]), { overwrite: false });
  await assert.rejects(
    p.write("a.txt", Readable.from([Buffer.from("second")]), { overwrite: false }),
    (err: unknown) => isWorkspaceSyncError(err, "ALREADY_EXISTS") && /a\.txt/.test(err.message),
  );
  await assert.rejects(
    p.write("a.txt", randomStream(12 * MiB).stream, { overwrite: false }),
    (err: unknown) => isWorkspaceSyncError(err, "ALREADY_EXISTS"),
  );
  assert.equal((await readAll(p, "a.txt")).toString(), "first");
  await p.write("a.txt", Readable.from([Buffer.from("third")]));
  assert.equal((await readAll(p, "a.txt")).toString(), "third");
});

test("ensureDir is a no-op, check passes, paths are validated, keys stay under a bucket/prefix root", async (t) => {
  const fx = await s3TestProvider(t);
  if (!fx) return;
  const { s3, p } = fx;
  await p.check();
  await p.ensureDir("some/dir");
  const none = [];
  for await (const e of p.list("some/dir")) none.push(e);
  assert.deepEqual(none, [], "a missing folder lists as empty");
  assert.equal(p.capabilities.folders, false);
  assert.equal(p.capabilities.listMtime, "upload");
  await assert.rejects(p.write("", Readable.from([])), (err: unknown) => isWorkspaceSyncError(err, "INVALID_PATH"));
  await assert.rejects(p.stat("../etc"), (err: unknown) => isWorkspaceSyncError(err, "INVALID_PATH"));

  const rooted = createS3Provider({ ...s3, bucket: `${s3.bucket}/team/one` }, { logger: silentLogger });
  t.after(() => rooted.close?.());
  assert.equal(rooted.description, `s3://${s3.bucket}/team/one`);
  await rooted.write("x/y.txt", Readable.from([Buffer.from("y")]));
  assert.equal((await p.stat("team/one/x/y.txt"))?.size, 1);
  const underRoot = [];
  for await (const e of rooted.list("")) underRoot.push(e.path);
  assert.deepEqual(underRoot, ["x/y.txt"]);
});
