/**
 * Issue 12: "after a crash mid-bisync the rerun made big.bin.conflict.conflict of an unchanged
 * file". Conflict copies are never made of files whose content is the same, and a conflict copy is
 * never itself copied again: the rerun without state finds big.bin and big.bin.conflict identical
 * on both sides (even multipart objects with no hash and no stored time, over the 8 MiB limit),
 * and a real conflict on a conflict copy gets a sibling number.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Upload } from "@aws-sdk/lib-storage";
import { silentLogger } from "../src/logger.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import type { SyncRunSuccess } from "../src/sync/types.js";
import { s3TestSettings, testS3Client } from "./support/s3.js";
import { memoryLogger, syncSettings } from "./sync-suite.js";

const REMOTE = "share";
const BIG = 9 * 1024 * 1024 + 11; // over the 8 MiB download-compare limit, two 5 MiB parts

async function bisync(provider: StorageProvider, ws: string, stateDir: string): Promise<SyncRunSuccess> {
  const logger = memoryLogger();
  const r = await runSyncWithProvider({ settings: syncSettings({ mode: "bisync", remotePath: REMOTE, exclude: [] }), provider, workspaceDir: ws, stateDir, logger });
  assert.ok(r.ok, `${!r.ok ? r.error : ""}\n${logger.lines.join("\n")}`);
  return r as SyncRunSuccess;
}

async function listTree(dir: string): Promise<string[]> {
  return ((await fsp.readdir(dir, { recursive: true })) as string[]).map(String).sort();
}

describe("conflict copies after a crash (no state, identical content)", () => {
  let tmp = "";
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-conflict-copies-"));
  });
  after(() => fsp.rm(tmp, { recursive: true, force: true }));

  it("S3: multipart objects without hash or stored time are compared by content, not copied again", async (t) => {
    const s3 = await s3TestSettings(t);
    if (!s3) return;
    const ws = path.join(tmp, "ws-s3");
    await fsp.mkdir(ws, { recursive: true });
    const client = testS3Client(t, s3);
    const big = randomBytes(BIG);
    const copy = randomBytes(BIG);
    for (const [name, data] of [["big.bin", big], ["big.bin.conflict", copy]] as const) {
      await fsp.writeFile(path.join(ws, name), data);
      // As another tool (or a crashed older run) left them: multipart, no md5chksum, no mtime.
      await new Upload({ client, params: { Bucket: s3.bucket, Key: `${REMOTE}/${name}`, Body: Readable.from([data]) }, partSize: 5 * 1024 * 1024 }).done();
    }
    const provider = createS3Provider(s3, { logger: silentLogger });
    t.after(() => provider.close?.());
    const r = await bisync(provider, ws, path.join(tmp, "state-s3"));
    assert.deepEqual({ up: r.uploaded, down: r.downloaded, conflicts: r.conflicts }, { up: [], down: [], conflicts: [] });
    assert.deepEqual(await listTree(ws), ["big.bin", "big.bin.conflict"]);
  });

  it("local folder: identical copies of any size are read and found equal; a real conflict on a copy gets .conflict1", async () => {
    const ws = path.join(tmp, "ws-local");
    const root = path.join(tmp, "cloud-local");
    await fsp.mkdir(path.join(root, REMOTE), { recursive: true });
    await fsp.mkdir(ws, { recursive: true });
    const big = randomBytes(BIG);
    for (const name of ["big.bin", "big.bin.conflict"]) {
      await fsp.writeFile(path.join(ws, name), big);
      await fsp.writeFile(path.join(root, REMOTE, name), big);
      await fsp.utimes(path.join(root, REMOTE, name), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    }
    // A conflict copy that really differs on both sides.
    await fsp.writeFile(path.join(ws, "x.conflict"), "workspace");
    await fsp.writeFile(path.join(root, REMOTE, "x.conflict"), "cloud side");
    const provider = createLocalProvider({ root });
    const r = await bisync(provider, ws, path.join(tmp, "state-local"));
    assert.deepEqual({ up: r.uploaded.filter((n) => n.startsWith("big")), down: r.downloaded.filter((n) => n.startsWith("big")) }, { up: [], down: [] });
    assert.deepEqual(r.conflicts, ["x.conflict"]);
    assert.deepEqual(await listTree(ws), ["big.bin", "big.bin.conflict", "x.conflict", "x.conflict1"]);
  });
});
