/**
 * The sync behaviour suite against the Dropbox wire fake (a real HTTP server speaking API v2), plus
 * what only Dropbox has: case-insensitive names, names it refuses, rate-limit storms and stored list
 * cursors that make a no-change run cost a handful of calls.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import type { SyncSettings } from "../src/config/types.js";
import { silentLogger, type Logger } from "../src/logger.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import type { SyncRunResult, SyncRunSuccess } from "../src/sync/types.js";
import { startDropboxFake, type DropboxFake, writeContention } from "./support/dropbox-fake.js";
import { describeSyncSuite, memoryLogger, syncSettings } from "./sync-suite.js";

describeSyncSuite("Dropbox (wire fake)", async (dir) => {
  const fake = await startDropboxFake();
  const provider = createDropboxProvider(
    { token: fake.issueAccessToken(), fetch: fake.fetch },
    { logger: silentLogger, stateDir: path.join(dir, "dropbox-state") },
    { backoffBaseMs: 10, batchDelayMs: 20 },
  );
  return {
    provider,
    cleanup: async () => {
      await provider.close?.();
      await fake.close();
    },
  };
});

// ---- Dropbox-specific behaviour ------------------------------------------------------------------

interface DropboxEnv {
  fake: DropboxFake;
  provider: StorageProvider;
  tmp: string;
  ws: string;
  stateDir: string;
  run(settings: Partial<SyncSettings>, logger?: Logger): Promise<SyncRunResult>;
  /** API calls made by `fn`, by endpoint (endpoints with no calls left out). */
  callsDuring(fn: () => Promise<unknown>): Promise<Record<string, number>>;
  close(): Promise<void>;
}

async function dropboxEnv(options: { concurrency?: number } = {}): Promise<DropboxEnv> {
  const fake = await startDropboxFake();
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-dbx-"));
  const ws = path.join(tmp, "ws");
  const stateDir = path.join(tmp, "state");
  await fsp.mkdir(ws, { recursive: true });
  const provider = createDropboxProvider(
    { token: fake.issueAccessToken(), fetch: fake.fetch },
    { logger: silentLogger, stateDir: path.join(stateDir, "dropbox") },
    { backoffBaseMs: 5, batchDelayMs: 20 },
  );
  return {
    fake,
    provider,
    tmp,
    ws,
    stateDir,
    run: (settings, logger) =>
      runSyncWithProvider({
        settings: syncSettings({ concurrency: options.concurrency ?? 4, ...settings }),
        provider,
        workspaceDir: ws,
        stateDir,
        ...(logger ? { logger } : {}),
      }),
    async callsDuring(fn) {
      const before = { ...fake.calls };
      await fn();
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(fake.calls)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
      return out;
    },
    async close() {
      await provider.close?.();
      await fake.close();
      await fsp.rm(tmp, { recursive: true, force: true });
    },
  };
}

function ok(r: SyncRunResult): SyncRunSuccess {
  if (!r.ok) assert.fail(`sync failed: ${r.code} ${r.error}`);
  return r;
}

async function write(root: string, rel: string, content: string | Buffer, mtime?: Date): Promise<void> {
  const abs = path.join(root, ...rel.split("/"));
  await fsp.mkdir(path.dirname(abs), { recursive: true });
  await fsp.writeFile(abs, content);
  if (mtime) await fsp.utimes(abs, mtime, mtime);
}

const read = (root: string, rel: string): Promise<string> => fsp.readFile(path.join(root, ...rel.split("/")), "utf8");

/** Cloud files under /share as `{ relative display path: content }`. */
function cloudFiles(fake: DropboxFake): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fake.files.values()) if (f.path.toLowerCase().startsWith("/share/")) out[f.path.slice("/share/".length)] = f.content.toString("utf8");
  return out;
}

describe("sync over Dropbox: what only Dropbox has", () => {
  let env: DropboxEnv;
  afterEach(async () => env?.close());

  for (const mode of ["bisync", "mailbox", "mirror"] as const) {
    it(`${mode}: two workspace names differing only in case are a reported conflict; one is skipped with a warning and nothing is overwritten`, async () => {
      env = await dropboxEnv();
      await write(env.ws, "code/a.txt", "lower-case folder");
      await write(env.ws, "CODE/a.txt", "upper-case folder");
      await write(env.ws, "other.txt", "o");
      const logger = memoryLogger();
      const r = ok(await env.run({ mode }, logger));
      assert.equal(r.conflicts.length, 1);
      const skippedName = r.conflicts[0]!;
      assert.ok(["code/a.txt", "CODE/a.txt"].includes(skippedName), skippedName);
      const keptName = skippedName === "code/a.txt" ? "CODE/a.txt" : "code/a.txt";
      assert.ok(r.skipped?.some((s) => s.path === skippedName && /differs only in case/.test(s.reason)), "skipped with a reason");
      assert.ok(logger.lines.some((l) => l.startsWith("warn ") && l.includes(skippedName) && /case/.test(l)), "a warning names it");
      const cloud = cloudFiles(env.fake);
      const cloudA = Object.keys(cloud).filter((k) => k.toLowerCase() === "code/a.txt");
      assert.equal(cloudA.length, 1);
      assert.equal(cloud[cloudA[0]!], await read(env.ws, keptName), "the cloud holds the kept copy");
      assert.equal(await read(env.ws, "code/a.txt"), "lower-case folder");
      assert.equal(await read(env.ws, "CODE/a.txt"), "upper-case folder");

      // Again: still reported, nothing moves.
      const r2 = ok(await env.run({ mode }));
      assert.deepEqual([r2.uploaded, r2.downloaded, r2.deleted, r2.conflicts], [[], [], [], [skippedName]]);
      assert.deepEqual(cloudFiles(env.fake), cloud);
    });

    it(`${mode}: a case twin created after the first sync never overwrites the synced copy`, async () => {
      env = await dropboxEnv();
      await write(env.ws, "code/a.txt", "synced first");
      await write(env.ws, "keep.txt", "k");
      ok(await env.run({ mode }));
      assert.equal(env.fake.read("/share/code/a.txt")?.toString(), "synced first");
      // The twin sorts first and is newer: it must still not replace the cloud copy of code/a.txt.
      await write(env.ws, "CODE/a.txt", "the twin", new Date(Date.now() + 60_000));
      const r = ok(await env.run({ mode }));
      assert.deepEqual(r.conflicts, ["CODE/a.txt"]);
      assert.deepEqual(r.uploaded, []);
      assert.ok(r.skipped?.some((s) => s.path === "CODE/a.txt"));
      assert.equal(env.fake.read("/share/code/a.txt")?.toString(), "synced first");
      assert.equal(await read(env.ws, "code/a.txt"), "synced first");
      assert.equal(await read(env.ws, "CODE/a.txt"), "the twin");
      // Editing the synced copy still syncs it.
      await write(env.ws, "code/a.txt", "edited", new Date(Date.now() + 120_000));
      const r2 = ok(await env.run({ mode }));
      assert.deepEqual(r2.uploaded, ["code/a.txt"]);
      assert.equal(env.fake.read("/share/code/a.txt")?.toString(), "edited");
      assert.equal(await read(env.ws, "CODE/a.txt"), "the twin");
    });
  }

  it("the cloud spelling of a folder differs from the workspace's: new files land in the workspace folder, conflicts are kept beside it", async () => {
    env = await dropboxEnv();
    await write(env.ws, "Docs/a.txt", "workspace a", new Date("2025-01-01T00:00:00Z"));
    await write(env.ws, "Docs/keep.txt", "k");
    env.fake.put("/share/docs/a.txt", Buffer.from("cloud a, newer"), new Date("2025-06-01T00:00:00Z"));
    env.fake.put("/share/docs/b.txt", Buffer.from("cloud b"));
    const r = ok(await env.run({ mode: "bisync" }));
    assert.deepEqual(r.conflicts, ["Docs/a.txt"]);
    const entries = await fsp.readdir(env.ws);
    assert.deepEqual(entries.sort(), ["Docs"], "no second folder spelled docs/");
    assert.equal(await read(env.ws, "Docs/a.txt"), "cloud a, newer");
    assert.equal(await read(env.ws, "Docs/a.txt.conflict"), "workspace a");
    assert.equal(await read(env.ws, "Docs/b.txt"), "cloud b");
    assert.deepEqual(cloudFiles(env.fake), {
      "docs/a.txt": "cloud a, newer",
      "docs/a.txt.conflict": "workspace a",
      "docs/b.txt": "cloud b",
      "docs/keep.txt": "k",
    });
    const r2 = ok(await env.run({ mode: "bisync" }));
    assert.deepEqual([r2.uploaded, r2.downloaded, r2.deleted, r2.conflicts], [[], [], [], []]);
  });

  it("mirror ingest into a workspace folder spelled differently from the cloud one", async () => {
    env = await dropboxEnv();
    await write(env.ws, "Inbox/old.txt", "already here");
    await write(env.ws, "Inbox/Same.txt", "local same");
    await write(env.ws, "work.md", "w");
    env.fake.put("/share/inbox/new.txt", Buffer.from("from the cloud"));
    // Another time than the workspace copy's: same size and same millisecond would be rclone's
    // "same file" (the two writes can fall in one millisecond).
    env.fake.put("/share/inbox/same.txt", Buffer.from("cloud same"), new Date("2025-06-01T00:00:00Z"));
    const r = ok(await env.run({ mode: "mirror", ingest: true }));
    assert.deepEqual(r.inboxFiles, ["Inbox/Same (1).txt", "Inbox/new.txt"]);
    assert.deepEqual((await fsp.readdir(env.ws)).sort(), ["Inbox", "work.md"]);
    assert.equal(await read(env.ws, "Inbox/new.txt"), "from the cloud");
    assert.equal(await read(env.ws, "Inbox/Same.txt"), "local same");
    assert.equal(await read(env.ws, "Inbox/Same (1).txt"), "cloud same");
    assert.deepEqual(cloudFiles(env.fake), { "inbox/new.txt": "from the cloud", "inbox/same.txt": "cloud same", "work.md": "w" });
  });

  it("a workspace file and a folder whose names differ only in case: the file is skipped and reported, the folder synced", async () => {
    env = await dropboxEnv();
    await write(env.ws, "Notes", "a file called Notes");
    await write(env.ws, "notes/a.txt", "in the folder");
    await write(env.ws, "x.txt", "x");
    const logger = memoryLogger();
    const r = ok(await env.run({ mode: "bisync" }, logger));
    assert.deepEqual(r.conflicts, ["Notes"]);
    assert.ok(r.skipped?.some((s) => s.path === "Notes" && /folder/.test(s.reason)));
    assert.ok(logger.lines.some((l) => l.startsWith("warn ") && l.includes("Notes")));
    assert.deepEqual(cloudFiles(env.fake), { "notes/a.txt": "in the folder", "x.txt": "x" });
    const r2 = ok(await env.run({ mode: "bisync" }));
    assert.deepEqual([r2.uploaded, r2.downloaded, r2.deleted], [[], [], []]);
    assert.equal(await read(env.ws, "Notes"), "a file called Notes");
  });

  it("names Dropbox refuses (desktop.ini, Thumbs.db) are skipped with a note, never uploaded or deleted", async () => {
    env = await dropboxEnv();
    await write(env.ws, "desktop.ini", "[.ShellClassInfo]");
    await write(env.ws, "photos/Thumbs.db", "cache");
    await write(env.ws, "photos/cat.jpg", "meow");
    const logger = memoryLogger();
    const r = ok(await env.run({ mode: "bisync" }, logger));
    assert.deepEqual(r.uploaded, ["photos/cat.jpg"]);
    for (const name of ["desktop.ini", "photos/Thumbs.db"]) {
      assert.ok(r.skipped?.some((s) => s.path === name && /does not store/.test(s.reason)), name);
      assert.ok(logger.lines.some((l) => l.includes(`Skipping ${name}`)), `note for ${name}`);
    }
    assert.deepEqual(cloudFiles(env.fake), { "photos/cat.jpg": "meow" });
    const r2 = ok(await env.run({ mode: "bisync" }));
    assert.deepEqual([r2.uploaded, r2.downloaded, r2.deleted], [[], [], []]);
    assert.equal(await read(env.ws, "desktop.ini"), "[.ShellClassInfo]");
    assert.equal(await read(env.ws, "photos/Thumbs.db"), "cache");
  });

  it("a mailbox push of 2 000 files finishes correctly through a storm of 429s", async () => {
    env = await dropboxEnv({ concurrency: 8 });
    const N = 2000;
    for (let i = 0; i < N; i++) await write(env.ws, `notes/d${i % 20}/n${i}.md`, `note number ${i}\n`);
    const { fake } = env;
    fake.inject({ path: "/2/files/upload_session/start", status: 429, retryAfter: 0, times: 40, skip: 30 });
    fake.inject({ path: "/2/files/upload_session/finish_batch_v2", status: 429, retryAfter: 0, times: 5, skip: 3 });
    fake.inject(writeContention(3));
    fake.inject({ path: "/2/files/list_folder", status: 429, retryAfter: 0, times: 2 });
    fake.failBatchEntries(25);
    const r = ok(await env.run({ mode: "mailbox" }));
    assert.equal(r.uploaded.length, N);
    const sent = (fake.calls["files/upload_session/start"] ?? 0) + (fake.calls["files/upload"] ?? 0);
    assert.ok(sent >= N + 40, `the storm hit (${sent} upload calls for ${N} files)`);
    assert.equal((r.skipped ?? []).length, 0);
    for (let i = 0; i < N; i++) assert.equal(fake.read(`/share/notes/d${i % 20}/n${i}.md`)?.toString(), `note number ${i}\n`, `file ${i}`);
    assert.equal(Object.keys(cloudFiles(fake)).length, N);
    // Every fault was met (the storm really happened).
    const again = ok(await env.run({ mode: "mailbox" }));
    assert.deepEqual([again.uploaded, again.deleted], [[], []]);
  });

  it("a no-change run over 3 000 files costs a handful of calls (one list_folder/continue per listing)", async () => {
    env = await dropboxEnv();
    const N = 3000;
    const t0 = new Date("2025-03-01T10:00:00Z");
    for (let i = 0; i < N; i++) {
      const rel = `lib/p${i % 30}/f${i}.txt`;
      const body = `file ${i} `.repeat(1 + (i % 5));
      await write(env.ws, rel, body, t0);
      env.fake.put(`/share/${rel}`, Buffer.from(body), t0);
    }
    // First run: no state; equal content is recognised by content_hash, nothing moves.
    const first = ok(await env.run({ mode: "bisync" }));
    assert.deepEqual([first.uploaded, first.downloaded, first.conflicts], [[], [], []]);
    assert.equal(env.fake.calls["files/download"] ?? 0, 0, "compared by hash, not by download");

    let second: SyncRunSuccess | undefined;
    const calls = await env.callsDuring(async () => {
      second = ok(await env.run({ mode: "bisync" }));
    });
    assert.deepEqual([second!.uploaded, second!.downloaded, second!.deleted], [[], [], []]);
    assert.deepEqual(calls, { "files/list_folder/continue": 1 });

    // Mailbox: the push listing, the _outbox listing and the _outbox folder check.
    ok(await env.run({ mode: "mailbox" }));
    const mailboxCalls = await env.callsDuring(async () => ok(await env.run({ mode: "mailbox" })));
    assert.deepEqual(mailboxCalls, { "files/create_folder_v2": 1, "files/list_folder/continue": 2 });

    // Changes on both sides are seen through the same single listing call, and only they move.
    ok(await env.run({ mode: "bisync" })); // mode change: a merge run
    env.fake.put("/share/lib/p7/f7.txt", Buffer.from("edited in Dropbox"), new Date("2025-03-02T10:00:00Z"));
    await write(env.ws, "lib/p8/f8.txt", "edited locally", new Date("2025-03-03T10:00:00Z"));
    let third: SyncRunSuccess | undefined;
    const changeCalls = await env.callsDuring(async () => {
      third = ok(await env.run({ mode: "bisync" }));
    });
    assert.deepEqual([third!.uploaded, third!.downloaded], [["lib/p8/f8.txt"], ["lib/p7/f7.txt"]]);
    assert.equal(await read(env.ws, "lib/p7/f7.txt"), "edited in Dropbox");
    assert.equal(env.fake.read("/share/lib/p8/f8.txt")?.toString(), "edited locally");
    assert.equal(changeCalls["files/list_folder/continue"], 1);
    assert.equal(changeCalls["files/list_folder"], undefined);
    assert.equal(changeCalls["files/download"], 1);
  });
});
