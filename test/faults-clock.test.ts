/**
 * Clock skew between the host and the provider must not break change detection. Local provider:
 * files with mtimes decades in the future or the past, and edits that move a file's mtime
 * backwards, are still seen as changes (changes are "differs from the last agreed state", never
 * "newer than"). S3: the fault proxy shifts every LastModified the server reports by a day forward,
 * then a day back (a server clock jumping); that alone causes no transfer, while real edits on
 * either side are still found.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import type { SyncSettings } from "../src/config/types.js";
import { silentLogger } from "../src/logger.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import type { SyncRunResult, SyncRunSuccess } from "../src/sync/types.js";
import { startFaultProxy } from "./support/fault-proxy.js";
import { s3TestSettings } from "./support/s3.js";
import { tempDir } from "./support/tree.js";

const FUTURE = new Date("2099-01-02T03:04:05Z");
const PAST = new Date("1975-06-07T08:09:10Z");
const DAY = 24 * 3600_000;

function settings(provider: SyncSettings["provider"]): SyncSettings {
  return {
    provider,
    mode: "bisync",
    ingest: false,
    ingestPath: "inbox",
    notifyOnInbox: false,
    remotePath: "share",
    localPath: "",
    interval: 0,
    timeout: 0,
    onSessionStart: false,
    onSessionEnd: false,
    conflictResolve: "newer",
    exclude: [],
    copySymlinks: false,
    maxDelete: 50,
    concurrency: 4,
  };
}

function ok(r: SyncRunResult): SyncRunSuccess {
  if (!r.ok) assert.fail(`sync failed: ${r.code} ${r.error}`);
  return r;
}

async function cloudText(p: StorageProvider, rel: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of await p.read(`share/${rel}`)) parts.push(c as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

async function writeWs(ws: string, rel: string, text: string, mtime: Date): Promise<void> {
  await fsp.mkdir(path.dirname(path.join(ws, rel)), { recursive: true });
  await fsp.writeFile(path.join(ws, rel), text);
  await fsp.utimes(path.join(ws, rel), mtime, mtime);
}

test("local provider: mtimes far in the future or past, and mtimes moving backwards, do not hide changes", async (t) => {
  const { dir, cleanup } = await tempDir("ws-clock-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const stateDir = path.join(dir, "state");
  const provider = createLocalProvider({ root: path.join(dir, "cloud") });
  await writeWs(ws, "future.txt", "from the future v1", FUTURE);
  await writeWs(ws, "past.txt", "from the past v1", PAST);
  await provider.write("share/cloud-future.txt", Readable.from([Buffer.from("cloud future v1")]), { mtime: FUTURE });
  const run = () => runSyncWithProvider({ settings: settings("local"), provider, workspaceDir: ws, stateDir });

  const first = ok(await run());
  assert.deepEqual(first.uploaded.sort(), ["future.txt", "past.txt"]);
  assert.deepEqual(first.downloaded, ["cloud-future.txt"]);
  assert.deepEqual(ok(await run()).uploaded, [], "nothing to do with skewed mtimes alone");

  // The host clock jumped back: an edit gets an mtime older than the recorded one.
  await writeWs(ws, "future.txt", "edited with an older mtime v2", new Date(FUTURE.getTime() - 50 * 365 * DAY));
  // Same size, mtime moved into the past: still a change.
  await writeWs(ws, "past.txt", "from the past v2", new Date(PAST.getTime() - DAY));
  // The cloud side gets an edit stamped decades in the past.
  await provider.write("share/cloud-future.txt", Readable.from([Buffer.from("cloud edit stamped 1970s")]), { mtime: PAST });
  const second = ok(await run());
  assert.deepEqual(second.uploaded.sort(), ["future.txt", "past.txt"]);
  assert.deepEqual(second.downloaded, ["cloud-future.txt"]);
  assert.deepEqual(second.conflicts, []);
  assert.equal(await cloudText(provider, "future.txt"), "edited with an older mtime v2");
  assert.equal(await cloudText(provider, "past.txt"), "from the past v2");
  assert.equal(await fsp.readFile(path.join(ws, "cloud-future.txt"), "utf8"), "cloud edit stamped 1970s");
  const third = ok(await run());
  assert.deepEqual([third.uploaded, third.downloaded, third.deleted, third.conflicts], [[], [], [], []]);
});

test("both sides edited under skewed clocks: a conflict, and both versions are kept", async (t) => {
  const { dir, cleanup } = await tempDir("ws-clock-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const stateDir = path.join(dir, "state");
  const provider = createLocalProvider({ root: path.join(dir, "cloud") });
  await writeWs(ws, "doc.md", "agreed", PAST);
  const run = () => runSyncWithProvider({ settings: settings("local"), provider, workspaceDir: ws, stateDir });
  ok(await run());
  await writeWs(ws, "doc.md", "local edit (clock in the past)", PAST);
  await provider.write("share/doc.md", Readable.from([Buffer.from("cloud edit (clock in the future)")]), { mtime: FUTURE });
  const r = ok(await run());
  assert.deepEqual(r.conflicts, ["doc.md"]);
  const names = (await fsp.readdir(ws)).sort();
  const texts = await Promise.all(names.map((n) => fsp.readFile(path.join(ws, n), "utf8")));
  assert.ok(texts.includes("local edit (clock in the past)") && texts.includes("cloud edit (clock in the future)"), `both versions kept locally: ${names.join(", ")}`);
});

test("S3: a server clock a day ahead, then a day behind, causes no transfers; real edits are still found", async (t) => {
  const s3s = await s3TestSettings(t);
  if (!s3s) return;
  const { dir, cleanup } = await tempDir("ws-clock-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const stateDir = path.join(dir, "state");
  let shiftMs = DAY;
  const shiftIso = (iso: string): string => new Date(new Date(iso).getTime() + shiftMs).toISOString();
  const proxy = await startFaultProxy({ target: s3s.endpoint! });
  t.after(() => proxy.close());
  proxy.add({
    method: "GET",
    path: /[?&]list-type=2/,
    times: Infinity,
    action: { kind: "rewrite", body: (b) => Buffer.from(b.toString("utf8").replace(/<LastModified>([^<]+)<\/LastModified>/g, (_, iso: string) => `<LastModified>${shiftIso(iso)}</LastModified>`)) },
  });
  proxy.add({
    times: Infinity,
    when: (r) => r.method === "HEAD" || r.method === "GET",
    action: {
      kind: "rewrite",
      headers: (h) => (h["last-modified"] ? { ...h, "last-modified": new Date(new Date(h["last-modified"]).getTime() + shiftMs).toUTCString() } : h),
    },
  });
  const provider = createS3Provider({ ...s3s, endpoint: proxy.endpoint }, { logger: silentLogger });
  t.after(() => provider.close?.());
  await writeWs(ws, "a.txt", "alpha", PAST);
  await provider.write("share/b.txt", Readable.from([Buffer.from("bravo")]));
  const run = () => runSyncWithProvider({ settings: settings("s3"), provider, workspaceDir: ws, stateDir });
  const first = ok(await run());
  assert.deepEqual([first.uploaded, first.downloaded], [["a.txt"], ["b.txt"]]);
  assert.ok(proxy.faults() > 0, "the listings were shifted");

  shiftMs = -DAY; // the server clock jumps two days back
  const second = ok(await run());
  assert.deepEqual([second.uploaded, second.downloaded, second.deleted, second.conflicts], [[], [], [], []]);

  await provider.write("share/b.txt", Readable.from([Buffer.from("bravo edited in the cloud")]));
  await writeWs(ws, "a.txt", "alpha edited", new Date(PAST.getTime() - DAY));
  shiftMs = 3 * DAY;
  const third = ok(await run());
  assert.deepEqual([third.uploaded, third.downloaded, third.conflicts], [["a.txt"], ["b.txt"], []]);
  assert.equal(await fsp.readFile(path.join(ws, "b.txt"), "utf8"), "bravo edited in the cloud");
  assert.equal(await cloudText(provider, "a.txt"), "alpha edited");
});
