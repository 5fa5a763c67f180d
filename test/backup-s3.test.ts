/**
 * Backup → list → restore on the real S3 server (Ceph RGW): encrypted and not, with a snapshot big
 * enough for several multipart parts, two prefixes in one bucket kept apart, and retention over S3.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { listBackupSnapshots, runBackup } from "../src/backup/index.js";
import { s3TestSettings, type S3TestSettings, testS3Client } from "./support/s3.js";
import { sampleAgent, tempDir } from "./support/tree.js";
import { assertListedAndRestored } from "./support/round-trip.js";

const PASS = "s3 round trip passphrase";

function s3Config(s3: S3TestSettings, extra: Record<string, unknown> = {}) {
  return {
    backup: {
      enabled: true,
      provider: "s3",
      bucket: s3.bucket,
      prefix: "agent1",
      encrypt: true,
      passphrase: PASS,
      s3: { endpoint: s3.endpoint, region: "us-east-1", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, maxRetrySeconds: 5, partSizeMiB: 8 },
      ...extra,
    },
  };
}

for (const encrypt of [true, false]) {
  test(`S3 round trip (${encrypt ? "encrypted" : "plain"}) with a ~50 MiB snapshot in several parts`, async (t) => {
    const s3 = await s3TestSettings(t);
    if (!s3) return;
    const { dir, cleanup } = await tempDir("ws-bk-s3-");
    t.after(cleanup);
    const { workspaceDir, stateDir } = await sampleAgent(dir);
    // Random data does not compress: the snapshot is ~50 MiB, i.e. 7 parts of 8 MiB.
    await fsp.writeFile(path.join(workspaceDir, "blob.bin"), randomBytes(50 * 1024 * 1024));
    const syncConfig = s3Config(s3, { encrypt, ...(encrypt ? {} : { passphrase: undefined }) });

    const b = await runBackup({ syncConfig, workspaceDir, stateDir });
    assert.ok(b.ok, JSON.stringify(b));
    assert.ok(b.sizeBytes > 50 * 1024 * 1024);
    const client = testS3Client(t, s3);
    const objects = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    assert.deepEqual(
      (objects.Contents ?? []).map((o) => o.Key).sort(),
      [`agent1/${b.snapshotName}`, ...(encrypt ? [`agent1/${b.snapshotName}.mac`] : []), `agent1/${b.snapshotName}.sha256`],
      "the bucket and prefix are joined as the plugin did",
    );
    assert.match((objects.Contents ?? []).find((o) => o.Key === `agent1/${b.snapshotName}`)?.ETag ?? "", /-7"?$/, "uploaded in 7 fixed-size parts");

    await assertListedAndRestored({ syncConfig, workspaceDir, stateDir, snapshotName: b.snapshotName, restoreTo: path.join(dir, "restored") });
  });
}

test("a failed backup to S3 leaves no object and no pending multipart upload", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const { dir, cleanup } = await tempDir("ws-bk-s3-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  await fsp.writeFile(path.join(workspaceDir, "blob.bin"), randomBytes(40 * 1024 * 1024));
  const controller = new AbortController();
  let seen = 0;
  const b = await runBackup({
    syncConfig: s3Config(s3),
    workspaceDir,
    stateDir,
    signal: controller.signal,
    onProgress: (p) => {
      seen = p.bytes;
      if (p.bytes > 20 * 1024 * 1024) controller.abort(new Error("stop"));
    },
  });
  assert.equal(!b.ok && b.code, "ABORTED");
  assert.ok(seen > 0);
  const client = testS3Client(t, s3);
  const objects = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  assert.equal(objects.KeyCount ?? 0, 0);
  // The SDK aborts asynchronously: poll briefly.
  let pending = -1;
  for (let i = 0; i < 50 && pending !== 0; i++) {
    pending = (await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }))).Uploads?.length ?? 0;
    if (pending) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(pending, 0);
});

test("two prefixes in one bucket stay apart, and retention prunes over S3", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const { dir, cleanup } = await tempDir("ws-bk-s3-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const a = s3Config(s3, { prefix: "agent-a", retain: { last: 2 } });
  const b = s3Config(s3, { prefix: "agent-b", retain: { last: 2 } });
  const made: string[] = [];
  for (const day of [1, 2, 3]) {
    const r = await runBackup({ syncConfig: a, workspaceDir, stateDir, now: () => new Date(Date.UTC(2026, 1, day)) });
    assert.ok(r.ok, JSON.stringify(r));
    made.push(r.snapshotName);
  }
  const other = await runBackup({ syncConfig: b, workspaceDir, stateDir, now: () => new Date(Date.UTC(2026, 1, 1)) });
  assert.ok(other.ok);
  const la = await listBackupSnapshots({ syncConfig: a, stateDir });
  const lb = await listBackupSnapshots({ syncConfig: b, stateDir });
  assert.ok(la.ok && lb.ok);
  assert.deepEqual(la.snapshots, [made[2], made[1]], "the oldest of agent-a was pruned");
  assert.deepEqual(lb.snapshots, [other.snapshotName], "agent-b untouched by agent-a's retention");
});
