/**
 * The sync behaviour suite against a real S3 server (Ceph RGW started by scripts/run-tests.mjs or
 * `node scripts/rgw.mjs`): listing mtimes are upload times, the single-part ETag is the MD5 that
 * `hashLocalFile` computes, and there are no folders. One fresh bucket per scenario.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import type { S3Settings, SyncSettings } from "../src/config/types.js";
import { silentLogger } from "../src/logger.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import type { RemoteEntry, StorageProvider } from "../src/providers/types.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import type { SyncRunSuccess } from "../src/sync/types.js";
import { startFaultProxy } from "./support/fault-proxy.js";
import { createTestBucket, rawS3Client, rgwFromEnv } from "./support/s3.js";
import { describeSyncSuite, instrument, syncSettings } from "./sync-suite.js";

const rgw = rgwFromEnv();
if (!rgw && process.env.CI === "true") throw new Error("RGW missing under CI (WS_S3_ENDPOINT is not set): the S3 sync suite cannot run");

describeSyncSuite(
  "S3 (Ceph RGW)",
  async () => {
    const settings = await createTestBucket(rgw!, "ws-sync-");
    const provider = createS3Provider(settings, { logger: silentLogger });
    return { provider, cleanup: () => provider.close?.() ?? Promise.resolve() };
  },
  rgw ? {} : { skip: "S3 sync tests need Ceph RGW (WS_S3_ENDPOINT): run node scripts/rgw.mjs or scripts/run-tests.mjs" },
);

// ---- S3-specific behaviour -----------------------------------------------------------------------

interface S3Env {
  settings: S3Settings & { bucket: string };
  provider: StorageProvider;
  ws: string;
  stateDir: string;
  run(settings?: Partial<SyncSettings>, provider?: StorageProvider): Promise<SyncRunSuccess>;
  put(rel: string, content: Buffer | string, mtime?: Date): Promise<void>;
  get(rel: string): Promise<Buffer>;
  list(): Promise<Map<string, RemoteEntry>>;
  close(): Promise<void>;
}

async function s3Env(overrides: Partial<S3Settings> = {}): Promise<S3Env> {
  const settings = await createTestBucket(rgw!, "ws-sync-", overrides);
  const provider = createS3Provider(settings, { logger: silentLogger });
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-s3-"));
  const ws = path.join(tmp, "ws");
  const stateDir = path.join(tmp, "state");
  await fsp.mkdir(ws, { recursive: true });
  return {
    settings,
    provider,
    ws,
    stateDir,
    async run(s = {}, p = provider) {
      const r = await runSyncWithProvider({ settings: syncSettings(s), provider: p, workspaceDir: ws, stateDir });
      if (!r.ok) assert.fail(`sync failed: ${r.code} ${r.error}`);
      return r;
    },
    async put(rel, content, mtime) {
      const body = Buffer.from(content);
      await provider.write(`share/${rel}`, Readable.from([body]), { sizeHint: body.length, ...(mtime ? { mtime } : {}) });
    },
    async get(rel) {
      const parts: Buffer[] = [];
      for await (const c of await provider.read(`share/${rel}`)) parts.push(c as Buffer);
      return Buffer.concat(parts);
    },
    async list() {
      const out = new Map<string, RemoteEntry>();
      for await (const e of provider.list("share")) out.set(e.path, e);
      return out;
    },
    async close() {
      await provider.close?.();
      await fsp.rm(tmp, { recursive: true, force: true });
    },
  };
}

async function writeWs(ws: string, rel: string, content: Buffer | string, mtime?: Date): Promise<void> {
  const abs = path.join(ws, ...rel.split("/"));
  await fsp.mkdir(path.dirname(abs), { recursive: true });
  await fsp.writeFile(abs, content);
  if (mtime) await fsp.utimes(abs, mtime, mtime);
}

describe("sync over S3: what only S3 has", rgw ? {} : { skip: "S3 sync tests need Ceph RGW (WS_S3_ENDPOINT)" }, () => {
  let env: S3Env | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it("a newer conflict is decided on the stored source mtime, not on the upload time", async () => {
    env = await s3Env();
    const hour = 3600_000;
    await writeWs(env.ws, "doc.txt", "base", new Date(Date.now() - 5 * hour));
    await writeWs(env.ws, "other.txt", "o");
    await env.run();
    // Edited in the workspace 100 s ago; the cloud copy was edited two hours ago on another machine
    // and uploaded only now (as rclone does: the source mtime goes into the object's metadata).
    await writeWs(env.ws, "doc.txt", "workspace edit, newer", new Date(Date.now() - 100_000));
    await env.put("doc.txt", "cloud edit, older", new Date(Date.now() - 2 * hour));
    const listed = (await env.list()).get("doc.txt");
    assert.ok(listed?.mtime && listed.mtime.getTime() > Date.now() - 60_000, "the listing shows the upload time");
    const r = await env.run();
    assert.deepEqual(r.conflicts, ["doc.txt"]);
    assert.equal(await fsp.readFile(path.join(env.ws, "doc.txt"), "utf8"), "workspace edit, newer");
    assert.equal(await fsp.readFile(path.join(env.ws, "doc.txt.conflict"), "utf8"), "cloud edit, older");
    assert.equal((await env.get("doc.txt")).toString(), "workspace edit, newer");
    assert.equal((await env.get("doc.txt.conflict")).toString(), "cloud edit, older");
  });

  it("folder marker keys (`dir/`, as S3 consoles create them) are neither files nor errors, and survive a drain", async () => {
    env = await s3Env();
    const client = rawS3Client(env.settings);
    try {
      for (const Key of ["share/", "share/_outbox/", "share/docs/", "share/docs/deep/"]) {
        await client.send(new PutObjectCommand({ Bucket: env.settings.bucket, Key, Body: new Uint8Array(0), ContentLength: 0 }));
      }
      await env.put("_outbox/report.pdf", "pdf");
      await env.put("docs/deep/a.txt", "a");
      await writeWs(env.ws, "mine.txt", "m");
      const r = await env.run({ mode: "mailbox" });
      assert.deepEqual(r.inboxFiles, ["report.pdf"]);
      assert.deepEqual(r.uploaded, ["mine.txt"]);
      assert.deepEqual(r.downloaded, []);
      const b = await env.run({ mode: "bisync" }); // bisync syncs the whole workspace, _inbox included
      assert.deepEqual(b.downloaded, ["docs/deep/a.txt"]);
      assert.deepEqual(b.uploaded, ["_inbox/report.pdf"]);
      assert.deepEqual((await fsp.readdir(path.join(env.ws, "docs"))).sort(), ["deep"]);
      const keys = ((await client.send(new ListObjectsV2Command({ Bucket: env.settings.bucket }))).Contents ?? []).map((o) => o.Key).sort();
      assert.deepEqual(keys, ["share/", "share/_inbox/report.pdf", "share/_outbox/", "share/docs/", "share/docs/deep/", "share/docs/deep/a.txt", "share/mine.txt"]);
    } finally {
      client.destroy();
    }
  });

  it("a server whose HEAD spells the ETag unlike its listing still gets the run's deletions and the drain's", async () => {
    // A proxy (or gateway) that gives HEAD's ETag in capitals, with nginx's weak mark: a write's
    // recorded version (from its HEAD) must compare equal with the next listing's, and the look
    // before a delete with the listing, or every deletion is kept as "changed", run after run.
    env = await s3Env();
    const proxy = await startFaultProxy({ target: env.settings.endpoint! });
    const viaProxy = createS3Provider({ ...env.settings, endpoint: proxy.endpoint }, { logger: silentLogger });
    try {
      proxy.add({
        method: "HEAD",
        times: Infinity,
        action: { kind: "rewrite", headers: (h) => ({ ...h, ...(typeof h.etag === "string" ? { etag: `W/${h.etag.toUpperCase()}` } : {}) }) },
      });
      await writeWs(env.ws, "keep.txt", "k");
      await writeWs(env.ws, "gone-1.txt", "g1");
      await writeWs(env.ws, "gone-2.txt", "g2");
      await env.put("_outbox/report.pdf", "pdf");
      assert.deepEqual((await env.run({ mode: "mirror" }, viaProxy)).uploaded.sort(), ["gone-1.txt", "gone-2.txt", "keep.txt"]);
      await fsp.rm(path.join(env.ws, "gone-1.txt"));
      const mirror = await env.run({ mode: "mirror" }, viaProxy);
      assert.deepEqual(mirror.deleted, ["gone-1.txt"], "mirror deletes in the cloud what the workspace deleted");
      await env.run({ mode: "bisync" }, viaProxy); // a mode change is a merge run: it deletes nothing
      await fsp.rm(path.join(env.ws, "gone-2.txt"));
      const bi = await env.run({ mode: "bisync" }, viaProxy);
      assert.deepEqual(bi.deleted, ["gone-2.txt"], "so does bisync");
      const mb = await env.run({ mode: "mailbox" }, viaProxy);
      assert.deepEqual(mb.inboxFiles, ["report.pdf"]);
      assert.deepEqual([...(await env.list()).keys()], ["keep.txt"], "the drain removed what it moved");
      assert.ok(proxy.faults() > 0, "HEAD answers were rewritten");
      const again = await env.run({ mode: "mailbox" }, viaProxy);
      assert.deepEqual([again.uploaded, again.downloaded, again.deleted, again.conflicts], [[], [], [], []], "and the runs converge");
    } finally {
      await viaProxy.close?.();
      await proxy.close();
    }
  });

  it("multipart objects (ETag without an MD5) are tracked by ETag: no-change runs transfer nothing, replacements are seen", async () => {
    env = await s3Env({ partSizeMiB: 5 });
    const big = randomBytes(6 * 1024 * 1024 + 123);
    await writeWs(env.ws, "big.bin", big);
    await writeWs(env.ws, "small.txt", "s");
    const first = await env.run();
    assert.deepEqual(first.uploaded.sort(), ["big.bin", "small.txt"]);
    const entry = (await env.list()).get("big.bin")!;
    assert.equal(entry.hash, undefined, "a multipart ETag is not an MD5");
    assert.match(entry.revision ?? "", /-2$/);

    const counted = instrument(env.provider);
    for (const mode of ["bisync", "mirror", "mailbox"] as const) {
      await env.run({ mode }, counted); // a mode change is a merge run: equal content must be recognised
      const w = counted.counts.write;
      const rd = counted.counts.read;
      const again = await env.run({ mode }, counted);
      assert.deepEqual([again.uploaded, again.downloaded, again.conflicts], [[], [], []], mode);
      assert.deepEqual([counted.counts.write, counted.counts.read], [w, rd], mode);
    }
    assert.equal(counted.counts.write, 0, "the big file was never uploaded again");

    // Replaced in the cloud with other bytes of the same size: downloaded by the next bisync.
    await env.run({ mode: "bisync" });
    const other = randomBytes(big.length);
    await env.put("big.bin", other);
    const r = await env.run({ mode: "bisync" });
    assert.deepEqual(r.downloaded, ["big.bin"]);
    assert.ok((await fsp.readFile(path.join(env.ws, "big.bin"))).equals(other));
  });
});
