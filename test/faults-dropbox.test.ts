/**
 * Dropbox under network faults, through the fault proxy in front of the wire fake: a connection
 * dropped in the middle of an upload-session chunk re-sends that chunk only (one session, one extra
 * append), an answer lost after Dropbox stored the chunk is recovered from `incorrect_offset`
 * without sending it twice, 503/429 storms on the wire are waited out, and a download cut
 * mid-body fails the transfer with a retryable NETWORK error while the sync leaves no half file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import type { SyncSettings } from "../src/config/types.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { startDropboxFake, type DropboxFake } from "./support/dropbox-fake.js";
import { dropboxFetchVia, startFaultProxy, type FaultProxy } from "./support/fault-proxy.js";
import { tempDir } from "./support/tree.js";
import { syncSettings } from "./sync-suite.js";

const MiB = 1024 * 1024;
const APPEND = "/__content/2/files/upload_session/append_v2";
const START = "/__content/2/files/upload_session/start";
const FINISH = "/__content/2/files/upload_session/finish";

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<{ fake: DropboxFake; proxy: FaultProxy; token: string }> {
  const fake = await startDropboxFake();
  const proxy = await startFaultProxy({ target: `http://127.0.0.1:${fake.port}` });
  t.after(() => proxy.close());
  t.after(() => fake.close());
  return { fake, proxy, token: fake.issueAccessToken() };
}

function chunks(data: Buffer): Readable {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += MiB) out.push(data.subarray(i, i + MiB));
  return Readable.from(out);
}

test("a connection dropped mid-chunk re-sends that chunk only; a lost answer is not sent twice", async (t) => {
  const { fake, proxy, token } = await setup(t);
  const p = createDropboxProvider({ token, fetch: dropboxFetchVia(proxy) }, { logger: silentLogger }, { chunkSize: 4 * MiB, backoffBaseMs: 5 });
  t.after(() => p.close?.());
  // 18 MiB in 4 MiB chunks: start (chunk 1), appends (chunks 2-4), finish (chunk 5, 2 MiB).
  proxy.add({ path: APPEND, action: { kind: "drop-request", afterBytes: MiB } }); // chunk 2: cut while sending
  proxy.add({ path: APPEND, skip: 1, action: { kind: "drop-response" } }); // chunk 3 (after the retry of 2): stored, answer lost
  const data = randomBytes(18 * MiB);
  const stored = await p.write("big/file.bin", chunks(data), { sizeHint: data.length });
  assert.equal(stored.size, data.length);
  assert.equal(proxy.faults(), 2);
  assert.equal(proxy.count({ path: START }), 1, "one upload session");
  // 3 appends + 1 re-send of the cut chunk + 1 retry of the lost answer (answered incorrect_offset).
  assert.equal(proxy.count({ path: APPEND }), 5);
  assert.equal(proxy.count({ path: FINISH }), 1);
  assert.ok(fake.read("/big/file.bin")?.equals(data), "Dropbox holds exactly the bytes sent");
});

test("503 and 429 storms on the wire are waited out (Retry-After honoured) and every file arrives", async (t) => {
  const { fake, proxy, token } = await setup(t);
  const logger = { lines: [] as string[], info() {}, error() {}, warn(m: string) { this.lines.push(m); } };
  const p = createDropboxProvider({ token, fetch: dropboxFetchVia(proxy) }, { logger }, { backoffBaseMs: 5 });
  t.after(() => p.close?.());
  proxy.add({ path: "/__content/2/files/upload", action: { kind: "status", status: 503, json: { error_summary: "internal_error/.." } }, times: 3 });
  proxy.add({
    path: "/__content/2/files/upload",
    action: { kind: "status", status: 429, retryAfter: 1, json: { error_summary: "too_many_requests/..", error: { reason: { ".tag": "too_many_requests" }, retry_after: 1 } } },
  });
  await p.write("a.txt", Readable.from([Buffer.from("alpha")]));
  const uploads = proxy.log.filter((r) => r.url === "/__content/2/files/upload");
  assert.equal(uploads.length, 5);
  assert.ok(uploads[4]!.at - uploads[3]!.at >= 950, "the 1 s Retry-After was waited out");
  assert.ok(logger.lines.some((l) => /rate limited/.test(l)));
  assert.equal(fake.read("/a.txt")?.toString(), "alpha");
});

test("a 5xx storm that outlasts the retry budget ends in a clear retryable error", async (t) => {
  const { proxy, token } = await setup(t);
  const p = createDropboxProvider({ token, fetch: dropboxFetchVia(proxy) }, { logger: silentLogger }, { backoffBaseMs: 5, maxRetryMs: 200 });
  t.after(() => p.close?.());
  proxy.add({ path: "/__content/2/files/upload", action: { kind: "status", status: 503, json: { error_summary: "internal_error/.." } }, times: Infinity });
  await assert.rejects(p.write("b.txt", Readable.from([Buffer.from("beta")])), (err: unknown) => isWorkspaceSyncError(err) && err.retryable && /try again later|gave up/.test(err.message));
});

function settings(): SyncSettings {
  return syncSettings({ provider: "dropbox", exclude: [], concurrency: 2 });
}

test("a download cut mid-body fails that sync with NETWORK, leaves no half file, and the next run completes", async (t) => {
  const { fake, proxy, token } = await setup(t);
  const { dir, cleanup } = await tempDir("ws-faults-dbx-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  await fsp.mkdir(ws, { recursive: true });
  const big = randomBytes(3 * MiB);
  fake.put("/share/big.bin", big);
  fake.put("/share/small.txt", Buffer.from("small"));
  const p = createDropboxProvider({ token, fetch: dropboxFetchVia(proxy) }, { logger: silentLogger, stateDir: path.join(dir, "state") }, { backoffBaseMs: 5 });
  t.after(() => p.close?.());
  proxy.add({ path: "/__content/2/files/download", when: (r) => String(r.headers["dropbox-api-arg"] ?? "").includes("big.bin"), action: { kind: "drop-response", afterBytes: MiB } });

  const r = await runSyncWithProvider({ settings: settings(), provider: p, workspaceDir: ws, stateDir: path.join(dir, "state") });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, "NETWORK");
  const names = await fsp.readdir(ws);
  assert.ok(!names.includes("big.bin"), "no half-written big.bin");
  assert.deepEqual(names.filter((n) => n.startsWith(".ws-sync-")), [], "the temp download was removed");

  const again = await runSyncWithProvider({ settings: settings(), provider: p, workspaceDir: ws, stateDir: path.join(dir, "state") });
  assert.ok(again.ok, again.ok ? "" : `${again.code}: ${again.error}`);
  const got = await fsp.readFile(path.join(ws, "big.bin"));
  assert.equal(createHash("sha256").update(got).digest("hex"), createHash("sha256").update(big).digest("hex"));
  assert.equal(await fsp.readFile(path.join(ws, "small.txt"), "utf8"), "small");
});
