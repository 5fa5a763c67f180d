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

/**
 * A conflict copy's name is checked against what is really on both sides when it is made, not only
 * against the listed (filtered) files: it never replaces an excluded file, never fails on a folder
 * of its name, and fits the file system's 255-byte names.
 */
describe("conflict copies land only on free names", () => {
  let tmp = "";
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-conflict-names-"));
  });
  after(() => fsp.rm(tmp, { recursive: true, force: true }));

  /** A workspace and a local cloud folder synced once with `files`, then `name` edited on both sides (the `newer` side a minute later). */
  async function editedOnBoth(label: string, files: Record<string, string>, name: string, newer: "workspace" | "cloud", exclude: string[] = []) {
    const ws = path.join(tmp, `ws-${label}`);
    const root = path.join(tmp, `cloud-${label}`);
    const cloud = path.join(root, REMOTE);
    const stateDir = path.join(tmp, `state-${label}`);
    for (const [rel, text] of Object.entries(files)) {
      await fsp.mkdir(path.dirname(path.join(ws, rel)), { recursive: true });
      await fsp.writeFile(path.join(ws, rel), text);
    }
    await fsp.mkdir(cloud, { recursive: true });
    const provider = createLocalProvider({ root });
    const run = async () => {
      const logger = memoryLogger();
      const r = await runSyncWithProvider({ settings: syncSettings({ mode: "bisync", remotePath: REMOTE, exclude }), provider, workspaceDir: ws, stateDir, logger });
      assert.ok(r.ok, `${!r.ok ? r.error : ""}\n${logger.lines.join("\n")}`);
      return r as SyncRunSuccess;
    };
    await run();
    const soon = Date.now() / 1000;
    await fsp.writeFile(path.join(ws, name), "workspace edit");
    await fsp.writeFile(path.join(cloud, name), "cloud edit!!");
    await fsp.utimes(path.join(ws, name), soon, newer === "workspace" ? soon + 60 : soon);
    await fsp.utimes(path.join(cloud, name), soon, newer === "cloud" ? soon + 60 : soon);
    return { ws, cloud, run };
  }

  it("an excluded cloud file of the copy's name is never replaced (nor downloaded): the copy takes the next name", async () => {
    const { ws, cloud, run } = await editedOnBoth("excluded", { "a.txt": "v1" }, "a.txt", "workspace", ["*.conflict"]);
    await fsp.writeFile(path.join(cloud, "a.txt.conflict"), "cloud-only excluded data");
    const r = await run();
    assert.deepEqual(r.conflicts, ["a.txt"]);
    assert.equal(await fsp.readFile(path.join(cloud, "a.txt.conflict"), "utf8"), "cloud-only excluded data");
    await assert.rejects(fsp.stat(path.join(ws, "a.txt.conflict")), /ENOENT/);
    for (const side of [ws, cloud]) {
      assert.equal(await fsp.readFile(path.join(side, "a.txt"), "utf8"), "workspace edit");
      assert.equal(await fsp.readFile(path.join(side, "a.txt.conflict1"), "utf8"), "cloud edit!!");
    }
    assert.deepEqual(r.skipped ?? [], []);
  });

  it("an excluded cloud folder of the copy's name: the workspace copy made for it is taken back, and the next name used", async () => {
    const { ws, cloud, run } = await editedOnBoth("excluded-folder", { "a.txt": "v1" }, "a.txt", "workspace", ["a.txt.conflict/**"]);
    await fsp.mkdir(path.join(cloud, "a.txt.conflict"));
    await fsp.writeFile(path.join(cloud, "a.txt.conflict", "x.txt"), "in an excluded folder");
    const r = await run();
    assert.deepEqual(r.conflicts, ["a.txt"]);
    assert.deepEqual(r.skipped ?? [], []);
    assert.equal(await fsp.readFile(path.join(cloud, "a.txt.conflict", "x.txt"), "utf8"), "in an excluded folder");
    await assert.rejects(fsp.stat(path.join(ws, "a.txt.conflict")), /ENOENT/);
    for (const side of [ws, cloud]) assert.equal(await fsp.readFile(path.join(side, "a.txt.conflict1"), "utf8"), "cloud edit!!");
  });

  it("an excluded workspace file of the copy's name is kept when the cloud wins", async () => {
    const { ws, cloud, run } = await editedOnBoth("excluded-ws", { "a.txt": "v1" }, "a.txt", "cloud", ["*.conflict"]);
    await fsp.writeFile(path.join(ws, "a.txt.conflict"), "workspace-only excluded data");
    const r = await run();
    assert.deepEqual(r.conflicts, ["a.txt"]);
    assert.equal(await fsp.readFile(path.join(ws, "a.txt.conflict"), "utf8"), "workspace-only excluded data");
    await assert.rejects(fsp.stat(path.join(cloud, "a.txt.conflict")), /ENOENT/);
    for (const side of [ws, cloud]) {
      assert.equal(await fsp.readFile(path.join(side, "a.txt"), "utf8"), "cloud edit!!");
      assert.equal(await fsp.readFile(path.join(side, "a.txt.conflict1"), "utf8"), "workspace edit");
    }
  });

  it("a folder of the copy's name on both sides: the conflict is resolved under the next name, run once", async () => {
    const { ws, cloud, run } = await editedOnBoth("folder", { "a.txt": "v1", "a.txt.conflict/keep.txt": "keep" }, "a.txt", "workspace");
    const r = await run();
    assert.deepEqual(r.conflicts, ["a.txt"]);
    assert.deepEqual(r.skipped ?? [], []);
    for (const side of [ws, cloud]) {
      assert.equal(await fsp.readFile(path.join(side, "a.txt"), "utf8"), "workspace edit");
      assert.equal(await fsp.readFile(path.join(side, "a.txt.conflict1"), "utf8"), "cloud edit!!");
      assert.equal(await fsp.readFile(path.join(side, "a.txt.conflict", "keep.txt"), "utf8"), "keep");
    }
    const again = await run();
    assert.deepEqual({ up: again.uploaded, down: again.downloaded, conflicts: again.conflicts }, { up: [], down: [], conflicts: [] });
  });

  it("a copy of a 254-byte name fits in 255 bytes (the stem is shortened), and a second conflict on it gets a sibling", async () => {
    const long = `${"n".repeat(250)}.txt`;
    const { ws, cloud, run } = await editedOnBoth("long", { [long]: "v1" }, long, "workspace");
    const r = await run();
    assert.deepEqual(r.conflicts, [long]);
    assert.deepEqual(r.skipped ?? [], []);
    const copies = (await fsp.readdir(cloud)).filter((n) => n !== long);
    assert.equal(copies.length, 1, copies.join(", "));
    const copy = copies[0]!;
    assert.ok(Buffer.byteLength(copy) <= 255 && copy.endsWith(".conflict") && copy.startsWith("nnnn"), copy);
    assert.equal(await fsp.readFile(path.join(ws, copy), "utf8"), "cloud edit!!");
    // The copy edited on both sides in turn: its own copy is a sibling, also within 255 bytes.
    const soon = Date.now() / 1000 + 120;
    await fsp.writeFile(path.join(ws, copy), "ws 2");
    await fsp.writeFile(path.join(cloud, copy), "cloud 2!");
    await fsp.utimes(path.join(ws, copy), soon, soon + 60);
    const second = await run();
    assert.deepEqual(second.conflicts, [copy]);
    assert.deepEqual(second.skipped ?? [], []);
    const all = (await fsp.readdir(ws)).sort();
    assert.equal(all.length, 3, all.join(", "));
    for (const n of all) assert.ok(Buffer.byteLength(n) <= 255, n);
  });
});
