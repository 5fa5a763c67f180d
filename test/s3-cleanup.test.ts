/**
 * Stale-upload cleanup only touches our own uploads: `cleanupIncomplete`'s `match` on the real S3
 * server (Ceph RGW), and `runBackup` aborting only the uploads its claims prove a dead backup's, so
 * a backup into a shared bucket with an empty prefix leaves other tools' pending multipart uploads
 * alone, even those named like snapshots.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, PutObjectCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { checksumFileName, formatChecksumClaim } from "../src/backup/checksum.js";
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

async function putObject(s3: S3TestSettings, key: string, body: string): Promise<void> {
  const client = rawS3Client(s3);
  try {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
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

/** A backup config for `s3`'s bucket. */
function backupConfig(s3: S3TestSettings) {
  return {
    backup: {
      enabled: true,
      provider: "s3",
      bucket: s3.bucket,
      encrypt: true,
      passphrase: "shared bucket passphrase",
      s3: { endpoint: s3.endpoint, region: "us-east-1", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, maxRetrySeconds: 2 },
    },
  };
}

/**
 * A bucket on the test server, an agent's workspace and state folder, and the real S3 provider on
 * that bucket (closed after the test); undefined where RGW is not installed (the test skips).
 */
async function backupFixture(t: TestContext) {
  const s3 = await s3TestSettings(t);
  if (!s3) return undefined;
  const { dir, cleanup } = await tempDir("ws-s3-cleanup-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const real = createS3Provider(s3, { logger: silentLogger });
  t.after(() => real.close?.());
  return { s3, workspaceDir, stateDir, real };
}

/** One backup of the fixture's agent through `provider`, without its prune. */
function backupWith(fx: NonNullable<Awaited<ReturnType<typeof backupFixture>>>, provider: StorageProvider): ReturnType<typeof runBackup> {
  return runBackup({ syncConfig: backupConfig(fx.s3), workspaceDir: fx.workspaceDir, stateDir: fx.stateDir, provider, skipPrune: true });
}

/** The names at the top of `provider`'s bucket. */
async function topNames(provider: StorageProvider): Promise<string[]> {
  const names: string[] = [];
  for await (const e of provider.list("", { recursive: false })) names.push(e.path);
  return names;
}

/** `real` with every pending upload counting as abandoned whatever its age (RGW cannot backdate an upload). */
function everyUploadStale(real: StorageProvider): StorageProvider {
  return { ...real, cleanupIncomplete: (d, _olderThanMs, options) => real.cleanupIncomplete(d, 0, options) };
}

test("a backup into a shared bucket aborts no pending upload it cannot prove its own, whatever its name", async (t) => {
  const fx = await backupFixture(t);
  if (!fx) return;
  const { s3, real } = fx;
  const provider = everyUploadStale(real);
  await pendingUpload(s3, "other-tool/file.bin");
  // Named like a snapshot: the plugin's rclone upload, another agent's, or another tool's. No
  // backup of ours claimed the name, so nothing says it is ours.
  await pendingUpload(s3, "backup-20200101T000000Z.tar.gz.enc");
  await pendingUpload(s3, "notes-backup-20200101T000000Z.tar.gz.enc.part");

  const b = await backupWith(fx, provider);
  assert.ok(b.ok, JSON.stringify(b));
  assert.deepEqual(await pendingKeys(s3), ["backup-20200101T000000Z.tar.gz.enc", "notes-backup-20200101T000000Z.tar.gz.enc.part", "other-tool/file.bin"]);
});

test("the next backup aborts the upload of a backup of ours that died, by the name it claimed, at once", async (t) => {
  const fx = await backupFixture(t);
  if (!fx) return;
  const { s3, stateDir, real } = fx;
  // The real provider, no age override: a dead backup of ours is known dead (its lock is ours now).
  const provider = real;
  const dead = "backup-20260101T000000Z.tar.gz.enc";
  const claimId = "0123456789abcdef0123";
  // What a backup killed mid-upload leaves: its record in the state folder, its claim, its upload.
  await fsp.mkdir(path.join(stateDir, "workspace-sync"), { recursive: true });
  await fsp.writeFile(path.join(stateDir, "workspace-sync", "backup-claim.json"), JSON.stringify({ provider: provider.description, dir: "", claimId, dead: [], name: dead }));
  await putObject(s3, checksumFileName(dead), formatChecksumClaim(claimId, new Date()));
  await pendingUpload(s3, dead);
  // Another name, with a copy of that claim beside it (the claim id is in storage in clear): not
  // the name that backup recorded, so not its upload.
  await putObject(s3, checksumFileName("backup-20260101T000001Z.tar.gz.enc"), formatChecksumClaim(claimId, new Date()));
  await pendingUpload(s3, "backup-20260101T000001Z.tar.gz.enc");

  const b = await backupWith(fx, provider);
  assert.ok(b.ok, JSON.stringify(b));
  assert.deepEqual(await pendingKeys(s3), ["backup-20260101T000001Z.tar.gz.enc"]);
});

test("a backup aborts the upload of another host's backup that died only with its claim, once the server says it is a day old", async (t) => {
  const fx = await backupFixture(t);
  if (!fx) return;
  const { s3, real } = fx;
  const provider = everyUploadStale(real);
  const day = 24 * 3600_000;
  const gone = "backup-20260101T000000Z.tar.gz.enc";
  const stale = "backup-20260101T000001Z.tar.gz.enc";
  const fresh = "backup-20260101T000002Z.tar.gz.enc";
  // Claimed two days ago and never stored: that backup is dead, its claim goes. A day and a half
  // ago: its upload is aborted, its claim stays a day longer. A minute ago: in progress.
  await putObject(s3, checksumFileName(gone), formatChecksumClaim("aaaaaaaaaaaaaaaa", new Date(Date.now() - 2 * day - 60_000)));
  await putObject(s3, checksumFileName(stale), formatChecksumClaim("cccccccccccccccc", new Date(Date.now() - 1.5 * day)));
  await putObject(s3, checksumFileName(fresh), formatChecksumClaim("bbbbbbbbbbbbbbbb", new Date(Date.now() - 60_000)));
  for (const n of [gone, stale, fresh]) await pendingUpload(s3, n);

  const b = await backupWith(fx, provider);
  assert.ok(b.ok, JSON.stringify(b));
  assert.deepEqual(await pendingKeys(s3), [fresh]);
  const names = await topNames(provider);
  assert.deepEqual([gone, stale, fresh].map((n) => names.includes(checksumFileName(n))), [false, true, true]);
});

test("a claim line dated back by someone who can write to the storage does not get a fresh upload of its name aborted", async (t) => {
  const fx = await backupFixture(t);
  if (!fx) return;
  const { s3, real } = fx;
  // The real provider: the server dates the upload now, whatever the claim line says.
  const provider = real;
  const name = "backup-20261207T000000Z.tar.gz.enc";
  await pendingUpload(s3, name); // another writer's, in progress
  await putObject(s3, checksumFileName(name), formatChecksumClaim("aaaaaaaaaaaaaaaa", new Date(Date.now() - 3 * 24 * 3600_000)));
  const b = await backupWith(fx, provider);
  assert.ok(b.ok, JSON.stringify(b));
  assert.deepEqual(await pendingKeys(s3), [name]);
});

test("where pending uploads cannot be looked at, a dead backup's claim stays a week, then goes", async (t) => {
  const fx = await backupFixture(t);
  if (!fx) return;
  const { s3, real } = fx;
  // Credentials without the right to list multipart uploads.
  const provider: StorageProvider = { ...real, cleanupIncomplete: () => Promise.reject(new Error("AccessDenied: ListMultipartUploads")) };
  const weekOld = "backup-20260101T000000Z.tar.gz.enc";
  const twoDays = "backup-20260101T000001Z.tar.gz.enc";
  const day = 24 * 3600_000;
  await putObject(s3, checksumFileName(weekOld), formatChecksumClaim("aaaaaaaaaaaaaaaa", new Date(Date.now() - 8 * day)));
  await putObject(s3, checksumFileName(twoDays), formatChecksumClaim("bbbbbbbbbbbbbbbb", new Date(Date.now() - 2 * day)));
  await pendingUpload(s3, weekOld);

  const b = await backupWith(fx, provider);
  assert.ok(b.ok, JSON.stringify(b));
  const names = await topNames(real);
  assert.ok(!names.includes(checksumFileName(weekOld)), "the week-old claim goes (its upload is left to the bucket's lifecycle rule)");
  assert.ok(names.includes(checksumFileName(twoDays)), "a younger one stays until its upload can be looked at");
  assert.deepEqual(await pendingKeys(s3), [weekOld]);
});

test("a failed backup leaves no partial upload, and where it cannot make sure, leaves its claim for the next backup", async (t) => {
  const fx = await backupFixture(t);
  if (!fx) return;
  const { s3, workspaceDir, stateDir, real } = fx;
  let lookFails = false;
  // A store that fails after its upload started, and whose own abort did not go through.
  const provider: StorageProvider = {
    ...real,
    write: async (key, body, options) => {
      if (key.endsWith(".sha256")) return real.write(key, body, options); // the name claim
      body.resume();
      await pendingUpload(s3, key);
      throw new Error("connection reset");
    },
    cleanupIncomplete: (d, ms, options) => (lookFails ? Promise.reject(new Error("list uploads refused")) : real.cleanupIncomplete(d, ms, options)),
  };
  const b = await backupWith(fx, provider);
  assert.equal(b.ok, false);
  assert.deepEqual(await pendingKeys(s3), [], "its partial upload aborted");
  const claims = async (): Promise<string[]> => (await topNames(real)).filter((n) => n.endsWith(".sha256"));
  assert.deepEqual(await claims(), [], "its claim removed");

  lookFails = true;
  const c = await backupWith(fx, provider);
  assert.equal(c.ok, false);
  const left = await pendingKeys(s3);
  assert.equal(left.length, 1, "the upload it could not make sure of");
  assert.deepEqual(await claims(), [checksumFileName(left[0]!)], "its claim kept");

  // The next backup from this state folder, with a working store: the dead one's upload and claim go.
  const d = await runBackup({ syncConfig: backupConfig(s3), workspaceDir, stateDir, provider: real, skipPrune: true });
  assert.ok(d.ok, JSON.stringify(d));
  assert.deepEqual(await pendingKeys(s3), []);
  assert.deepEqual(await claims(), [checksumFileName(d.snapshotName)]);
});

/** What a backup of ours killed after storing its snapshot, before its MAC file, leaves (its record names `name`). */
async function deadStoredSnapshot(s3: S3TestSettings, stateDir: string, description: string, name: string): Promise<void> {
  const claimId = "0123456789abcdef0123";
  await fsp.mkdir(path.join(stateDir, "workspace-sync"), { recursive: true });
  await fsp.writeFile(path.join(stateDir, "workspace-sync", "backup-claim.json"), JSON.stringify({ provider: description, dir: "", claimId, dead: [], name }));
  await putObject(s3, checksumFileName(name), formatChecksumClaim(claimId, new Date()));
  await putObject(s3, name, "a snapshot stored without its MAC file");
}

test("a dead backup's stored snapshot is removed even where pending uploads cannot be looked at (it has none)", async (t) => {
  const fx = await backupFixture(t);
  if (!fx) return;
  const { s3, stateDir, real } = fx;
  const provider: StorageProvider = { ...real, cleanupIncomplete: () => Promise.reject(new Error("AccessDenied: ListMultipartUploads")) };
  const deadName = "backup-20260101T000000Z.tar.gz.enc";
  await deadStoredSnapshot(s3, stateDir, real.description, deadName);
  const b = await backupWith(fx, provider);
  assert.ok(b.ok, JSON.stringify(b));
  const names = await topNames(real);
  assert.ok(!names.includes(deadName) && !names.includes(checksumFileName(deadName)), names.join(", "));
});

test("a backup stopped while it cleans up after a dead one keeps the dead one's record for the next backup", async (t) => {
  const fx = await backupFixture(t);
  if (!fx) return;
  const { s3, workspaceDir, stateDir, real } = fx;
  const ac = new AbortController();
  const provider: StorageProvider = {
    ...real,
    cleanupIncomplete: () => {
      ac.abort();
      return Promise.reject(new Error("stopped"));
    },
  };
  const deadName = "backup-20260101T000000Z.tar.gz.enc";
  const claimId = "0123456789abcdef0123";
  await fsp.mkdir(path.join(stateDir, "workspace-sync"), { recursive: true });
  const record = path.join(stateDir, "workspace-sync", "backup-claim.json");
  await fsp.writeFile(record, JSON.stringify({ provider: real.description, dir: "", claimId, dead: [], name: deadName }));
  await putObject(s3, checksumFileName(deadName), formatChecksumClaim(claimId, new Date()));
  await pendingUpload(s3, deadName);
  const b = await runBackup({ syncConfig: backupConfig(s3), workspaceDir, stateDir, provider, skipPrune: true, signal: ac.signal });
  assert.equal(b.ok, false);
  const kept = JSON.parse(await fsp.readFile(record, "utf8")) as { claimId?: string; name?: string };
  assert.deepEqual([kept.claimId, kept.name], [claimId, deadName]);
  // The next backup finishes the job.
  const c = await runBackup({ syncConfig: backupConfig(s3), workspaceDir, stateDir, provider: real, skipPrune: true });
  assert.ok(c.ok, JSON.stringify(c));
  assert.deepEqual(await pendingKeys(s3), []);
});

test("a dead backup's snapshot is never orphaned: not by a stop later in the cleanup, nor by one failed look", async (t) => {
  const fx = await backupFixture(t);
  if (!fx) return;
  const { s3, workspaceDir, stateDir, real } = fx;
  const deadName = "backup-20260101T000000Z.tar.gz.enc";
  const names = (): Promise<string[]> => topNames(real);
  await deadStoredSnapshot(s3, stateDir, real.description, deadName);
  // 1. Stopped while it passes over the claims a day old (after the dead backup's record was read).
  const ac = new AbortController();
  let lists = 0;
  const stopping: StorageProvider = {
    ...real,
    list: (d, o) => {
      if (++lists === 2) ac.abort();
      return real.list(d, o);
    },
  };
  const b = await runBackup({ syncConfig: backupConfig(s3), workspaceDir, stateDir, provider: stopping, skipPrune: true, signal: ac.signal });
  assert.equal(b.ok, false);
  const after = await runBackup({ syncConfig: backupConfig(s3), workspaceDir, stateDir, provider: real, skipPrune: true });
  assert.ok(after.ok, JSON.stringify(after));
  assert.ok(!(await names()).includes(deadName), "removed by the backup after the stopped one");

  // 2. Another dead backup, and one look that fails (a connection reset on the stat of its snapshot).
  const deadName2 = "backup-20260102T000000Z.tar.gz.enc";
  await deadStoredSnapshot(s3, stateDir, real.description, deadName2);
  let failed = false;
  const flaky: StorageProvider = {
    ...real,
    stat: (p, o) => {
      if (p === deadName2 && !failed) {
        failed = true;
        return Promise.reject(new Error("read ECONNRESET"));
      }
      return real.stat(p, o);
    },
  };
  const c = await runBackup({ syncConfig: backupConfig(s3), workspaceDir, stateDir, provider: flaky, skipPrune: true });
  assert.ok(c.ok, JSON.stringify(c));
  assert.ok(failed, "the look failed once");
  assert.ok((await names()).includes(deadName2), "kept while it could not be looked at");
  // The next backup removes it and its claim.
  const d = await runBackup({ syncConfig: backupConfig(s3), workspaceDir, stateDir, provider: real, skipPrune: true });
  assert.ok(d.ok, JSON.stringify(d));
  const left = await names();
  assert.ok(!left.includes(deadName2) && !left.includes(checksumFileName(deadName2)), left.join(", "));
});
