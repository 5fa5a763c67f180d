/**
 * Stale-upload cleanup only touches our own uploads: `cleanupIncomplete`'s `match` on the real S3
 * server (Ceph RGW), and `runBackup` passing a snapshot-name match, so a backup into a shared bucket
 * with an empty prefix leaves other tools' pending multipart uploads alone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { runBackup } from "../src/backup/index.js";
import { silentLogger } from "../src/logger.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { rawS3Client, s3TestSettings, type S3TestSettings, s3TestProvider } from "./support/s3.js";
import { sampleAgent, tempDir } from "./support/tree.js";

/** Starts a multipart upload of `key` with one part and leaves it pending. */
async function pendingUpload(s3: S3TestSettings, key: string): Promise<void> {
  const client = rawS3Client(s3);
  try {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
    await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: randomBytes(1024) }));
  } finally {
    client.destroy();
  }
}

async function pendingKeys(s3: S3TestSettings): Promise<string[]> {
  const client = rawS3Client(s3);
  try {
    const out = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
    return (out.Uploads ?? []).map((u) => u.Key ?? "").sort();
  } finally {
    client.destroy();
  }
}

test("cleanupIncomplete with match aborts only the uploads whose path below the folder matches", async (t) => {
  const fx = await s3TestProvider(t);
  if (!fx) return;
  const { s3, p } = fx;
  await pendingUpload(s3, "agent/backup-20200101T000000Z.tar.gz.enc");
  await pendingUpload(s3, "agent/sub/keep.bin");
  await pendingUpload(s3, "agent-other/backup-20200101T000000Z.tar.gz.enc");

  const seen: string[] = [];
  const removed = await p.cleanupIncomplete("agent", 0, {
    match: (path) => {
      seen.push(path);
      return path.startsWith("backup-");
    },
  });
  assert.equal(removed, 1);
  assert.deepEqual(seen.sort(), ["backup-20200101T000000Z.tar.gz.enc", "sub/keep.bin"], "paths are relative to the folder, other folders are not offered");
  assert.deepEqual(await pendingKeys(s3), ["agent-other/backup-20200101T000000Z.tar.gz.enc", "agent/sub/keep.bin"]);
});

test("a backup into a shared bucket aborts its own stale snapshot upload but not another tool's", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const { dir, cleanup } = await tempDir("ws-s3-cleanup-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const real = createS3Provider(s3, { logger: silentLogger });
  t.after(() => real.close?.());
  // RGW cannot backdate an upload: make every pending upload count as stale (older than 0 ms),
  // while keeping the options (the match) that runBackup passes.
  const calls: string[] = [];
  const provider: StorageProvider = {
    ...real,
    cleanupIncomplete: (d, _olderThanMs, options) => {
      calls.push(d);
      return real.cleanupIncomplete(d, 0, options);
    },
  };
  await pendingUpload(s3, "other-tool/file.bin");
  await pendingUpload(s3, "backup-20200101T000000Z.tar.gz.enc");
  await pendingUpload(s3, "notes-backup-20200101T000000Z.tar.gz.enc.part");

  const syncConfig = {
    backup: {
      enabled: true,
      provider: "s3",
      bucket: s3.bucket,
      encrypt: true,
      passphrase: "shared bucket passphrase",
      s3: { endpoint: s3.endpoint, region: "us-east-1", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, maxRetrySeconds: 2 },
    },
  };
  const b = await runBackup({ syncConfig, workspaceDir, stateDir, provider, skipPrune: true });
  assert.ok(b.ok, JSON.stringify(b));
  assert.deepEqual(calls, [""], "the cleanup ran over the whole bucket (empty prefix)");
  assert.deepEqual(await pendingKeys(s3), ["notes-backup-20200101T000000Z.tar.gz.enc.part", "other-tool/file.bin"]);
});
