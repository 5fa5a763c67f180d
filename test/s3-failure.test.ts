import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { isWorkspaceSyncError } from "../src/errors.js";
import { rawS3Client, type S3TestSettings, s3TestProvider, testS3Client } from "./support/s3.js";

const MiB = 1024 * 1024;

/** Pending multipart uploads in the bucket, polled briefly until none are left or the time is up. */
async function pendingUploads(s3: S3TestSettings, waitMs = 3000): Promise<string[]> {
  const client = rawS3Client(s3);
  try {
    const until = Date.now() + waitMs;
    for (;;) {
      const out = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
      const keys = (out.Uploads ?? []).map((u) => u.Key ?? "");
      if (keys.length === 0 || Date.now() > until) return keys;
      await sleep(100);
    }
  } finally {
    client.destroy();
  }
}

/** Random 1 MiB chunks; fails with `error` after `failAfter` bytes, or never ends when `failAfter` is Infinity. */
function failingStream(failAfter: number, error: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= failAfter) return void this.destroy(error);
      sent += MiB;
      this.push(randomBytes(MiB));
    },
  });
}

test("a source that fails after a few parts leaves no object and no pending upload", async (t) => {
  const fx = await s3TestProvider(t, { partSizeMiB: 5, queueSize: 2 });
  if (!fx) return;
  const { s3, p } = fx;

  let uploaded = 0;
  const err = new Error("disk read failed");
  await assert.rejects(
    p.write("snap.bin", failingStream(23 * MiB, err), { sizeHint: 100 * MiB, onProgress: (b) => (uploaded = b) }),
    (e: unknown) => isWorkspaceSyncError(e) && e.message === "disk read failed" && e.code === "PROVIDER_ERROR",
  );
  assert.ok(uploaded >= 5 * MiB, `some parts were uploaded before the failure (${uploaded})`);
  assert.equal(await p.stat("snap.bin"), undefined);
  assert.deepEqual(await pendingUploads(s3), []);
});

test("aborting a write through its signal leaves no object and no pending upload", async (t) => {
  const fx = await s3TestProvider(t, { partSizeMiB: 5 });
  if (!fx) return;
  const { s3, p } = fx;

  const ac = new AbortController();
  let uploaded = 0;
  const endless = failingStream(Infinity, new Error("unreachable"));
  const write = p.write("cancelled.bin", endless, {
    signal: ac.signal,
    onProgress: (b) => {
      uploaded = b;
      if (b >= 10 * MiB) ac.abort(new Error("user pressed Ctrl-C"));
    },
  });
  await assert.rejects(write, (e: unknown) => isWorkspaceSyncError(e, "ABORTED") && /Ctrl-C/.test(e.message));
  assert.ok(uploaded >= 10 * MiB);
  assert.ok(endless.destroyed, "the source is no longer read");
  assert.equal(await p.stat("cancelled.bin"), undefined);
  assert.deepEqual(await pendingUploads(s3), []);

  // An already-aborted signal does not even start.
  await assert.rejects(
    p.write("never.bin", Readable.from([Buffer.from("x")]), { signal: AbortSignal.abort() }),
    (e: unknown) => isWorkspaceSyncError(e, "ABORTED"),
  );
  assert.equal(await p.stat("never.bin"), undefined);
});

test("aborting a read destroys the stream with ABORTED", async (t) => {
  const fx = await s3TestProvider(t, { partSizeMiB: 5 });
  if (!fx) return;
  const { p } = fx;
  await p.write("big.bin", Readable.from([randomBytes(12 * MiB)]));
  const ac = new AbortController();
  const stream = await p.read("big.bin", { signal: ac.signal });
  let got = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) {
        got += (chunk as Buffer).length;
        if (got > MiB) ac.abort();
      }
    })(),
    (e: unknown) => isWorkspaceSyncError(e, "ABORTED"),
  );
  assert.ok(got < 12 * MiB);
});

test("cleanupIncomplete aborts pending multipart uploads under the folder only", async (t) => {
  const fx = await s3TestProvider(t);
  if (!fx) return;
  const { s3, p } = fx;
  const client = testS3Client(t, s3);

  const start = async (Key: string) => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key }));
    await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key, UploadId, PartNumber: 1, Body: randomBytes(1024) }));
  };
  await start("backups/backup-20240101T000000Z.tar.gz.enc");
  await start("backups/deep/other.bin");
  await start("elsewhere/keep.bin");

  assert.equal(await p.cleanupIncomplete("backups", 24 * 3600_000), 0, "fresh uploads are kept");
  assert.equal((await pendingUploads(s3, 0)).length, 3);
  assert.equal(await p.cleanupIncomplete("backups", 0), 2);
  assert.deepEqual(await pendingUploads(s3, 0), ["elsewhere/keep.bin"]);
});
