/**
 * Migrating from rclone on S3 (Ceph RGW), both ways, with the real rclone:
 * - rclone wrote the cloud folder (multipart objects, nanosecond mtimes): our first mirror, mailbox
 *   and bisync runs (no state) transfer nothing and make no conflict; with the workspace times
 *   moved, rclone's md5chksum proves the multipart objects identical.
 * - we wrote it: `rclone sync` finds nothing to do, and `rclone check` checks every hash.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { HeadObjectCommand, type HeadObjectCommandOutput } from "@aws-sdk/client-s3";
import { silentLogger } from "../src/logger.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import type { SyncMode } from "../src/config/types.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import type { SyncRunSuccess } from "../src/sync/types.js";
import { formatRcloneSeconds } from "../src/util/mtime.js";
import { s3TestSettings, testS3Client, type S3TestSettings } from "./support/s3.js";
import { MIGRATION_FILES, RCLONE_MULTIPART, RGW_REMOTE, makeMigrationTree, rcloneChanges, rcloneOk, requireRclone } from "./support/rclone.js";
import { instrument, memoryLogger, syncSettings } from "./sync-suite.js";

const REMOTE = "share";
/** Our part size for these tests: files of a few MiB go multipart, as rclone's with RCLONE_MULTIPART. */
const PART_SIZE_MIB = 5;

async function ourSync(t: TestContext, s3: S3TestSettings, ws: string, mode: SyncMode, stateDir?: string) {
  const inner = createS3Provider({ ...s3, partSizeMiB: PART_SIZE_MIB }, { logger: silentLogger });
  t.after(() => inner.close?.());
  const provider = instrument(inner);
  const logger = memoryLogger();
  let ownState: string | undefined;
  if (stateDir === undefined) {
    ownState = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-rc-state-"));
    const made = ownState;
    t.after(() => fsp.rm(made, { recursive: true, force: true }));
  }
  const result = await runSyncWithProvider({
    settings: syncSettings({ provider: "s3", mode, remotePath: REMOTE, exclude: [] }),
    provider,
    workspaceDir: ws,
    stateDir: stateDir ?? ownState!,
    logger,
  });
  assert.ok(result.ok, `sync failed: ${!result.ok ? result.error : ""}\n${logger.lines.join("\n")}`);
  return { result: result as SyncRunSuccess, counts: provider.counts, lines: logger.lines };
}

function assertNothingMoved(r: SyncRunSuccess, label: string): void {
  assert.deepEqual({ up: r.uploaded, down: r.downloaded, deleted: r.deleted, conflicts: r.conflicts, skipped: r.skipped ?? [] }, { up: [], down: [], deleted: [], conflicts: [], skipped: [] }, label);
}

describe("rclone interop on S3 (RGW)", () => {
  let tmp = "";
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-rclone-s3-"));
  });
  after(() => fsp.rm(tmp, { recursive: true, force: true }));

  it("a folder written by rclone sync: first mirror, mailbox and bisync runs transfer nothing", async (t) => {
    if (!requireRclone(t)) return;
    const s3 = await s3TestSettings(t);
    if (!s3) return;
    const ws = path.join(tmp, "ws-a");
    await makeMigrationTree(ws);
    rcloneOk(["sync", ws, `${RGW_REMOTE}:${s3.bucket}/${REMOTE}`, ...RCLONE_MULTIPART], s3);
    // rclone stored what we read: multipart objects with md5chksum.
    const head = await testS3Client(t, s3).send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${REMOTE}/big-a.bin` }));
    assert.match(head.ETag ?? "", /-2"?$/, "rclone uploaded big-a.bin in parts");
    assert.ok(head.Metadata?.md5chksum);

    for (const mode of ["mirror", "bisync", "mailbox"] as const) {
      const { result, counts } = await ourSync(t, s3, ws, mode);
      assertNothingMoved(result, `first ${mode} run`);
      assert.equal(counts.read, 0, `${mode}: size and mtime were proof enough, nothing was downloaded to compare`);
      assert.equal(counts.write, 0);
    }
  });

  it("lost state and moved workspace times: md5chksum proves multipart objects identical, no conflict", async (t) => {
    if (!requireRclone(t)) return;
    const s3 = await s3TestSettings(t);
    if (!s3) return;
    const ws = path.join(tmp, "ws-b");
    await makeMigrationTree(ws);
    rcloneOk(["sync", ws, `${RGW_REMOTE}:${s3.bucket}/${REMOTE}`, ...RCLONE_MULTIPART], s3);
    // Copied without keeping times (a restore, a `cp`): same bytes, new mtimes.
    const now = new Date();
    for (const f of MIGRATION_FILES) await fsp.utimes(path.join(ws, ...f.path.split("/")), now, now);
    const { result, counts } = await ourSync(t, s3, ws, "bisync");
    assertNothingMoved(result, "bisync without state");
    assert.equal(counts.read, 0, "hashes (single-part ETag, md5chksum) decided without downloads");
    const names = (await fsp.readdir(ws, { recursive: true })).map(String);
    assert.deepEqual(names.filter((n) => n.includes(".conflict")), []);
  });

  it("a folder we synced: rclone sync finds nothing to do and rclone check checks every hash", async (t) => {
    if (!requireRclone(t)) return;
    const s3 = await s3TestSettings(t);
    if (!s3) return;
    const ws = path.join(tmp, "ws-c");
    await makeMigrationTree(ws);
    const { result } = await ourSync(t, s3, ws, "mirror");
    assert.equal(result.uploaded.length, MIGRATION_FILES.length);

    const client = testS3Client(t, s3);
    for (const f of MIGRATION_FILES) {
      const h: HeadObjectCommandOutput = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${REMOTE}/${f.path}` }));
      const st = await fsp.lstat(path.join(ws, ...f.path.split("/")), { bigint: true });
      assert.equal(h.Metadata?.mtime, formatRcloneSeconds(st.mtimeNs), `${f.path}: mtime as rclone writes it`);
      if ((f.bytes ?? 0) > PART_SIZE_MIB * 1024 * 1024) {
        assert.match(h.ETag ?? "", /-\d+"?$/, `${f.path} went multipart`);
        assert.ok(h.Metadata?.md5chksum, `${f.path}: md5chksum on a multipart upload`);
      } else assert.equal(h.Metadata?.md5chksum, undefined);
    }
    const json = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${REMOTE}/data.json` }));
    assert.equal(json.ContentType, "application/json");

    const target = `${RGW_REMOTE}:${s3.bucket}/${REMOTE}`;
    const check = rcloneOk(["check", ws, target], s3);
    assert.match(check.log, /0 differences found/);
    assert.match(check.log, new RegExp(`${MIGRATION_FILES.length} matching files`));
    assert.doesNotMatch(check.log, /could not be checked/);
    const sync = rcloneOk(["sync", ws, target, "-v", ...RCLONE_MULTIPART], s3);
    assert.deepEqual(rcloneChanges(sync.log), [], sync.log);
    assert.match(sync.log, /There was nothing to transfer/);
  });
});
