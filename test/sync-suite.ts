/**
 * The provider-independent sync behaviour suite. `describeSyncSuite(name, makeProvider)` runs every
 * scenario against the provider `makeProvider` builds (local now; S3 and Dropbox once they land).
 * Cloud-side changes go through the provider itself, so the scenarios hold for any backend.
 */
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { SyncSettings } from "../src/config/types.js";
import { WorkspaceSyncError } from "../src/errors.js";
import type { Logger } from "../src/logger.js";
import type { RemoteEntry, StorageProvider } from "../src/providers/types.js";
import { runSyncWithProvider, type RunSyncWithProviderOptions } from "../src/sync/run.js";
import { statePathFor } from "../src/sync/state.js";
import { installToken, syncTempName } from "../src/util/temp-names.js";
import type { SyncRunResult, SyncRunSuccess } from "../src/sync/types.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { tempDir } from "./support/tree.js";

/** Builds a fresh, empty provider for one scenario; `dir` is a private temp folder it may use. */
export type MakeProvider = (dir: string) => Promise<{ provider: StorageProvider; cleanup?: () => Promise<void> }>;

/** Options of {@link describeSyncSuite}. */
export interface SyncSuiteOptions {
  /** Skip the whole suite with this reason (e.g. the S3 server is not running). */
  skip?: string;
}

const REMOTE = "share";

/** Settings with every field set (what `resolveConfig` would give), overridable. */
export function syncSettings(overrides: Partial<SyncSettings> = {}): SyncSettings {
  return {
    provider: "local",
    mode: "bisync",
    ingest: false,
    ingestPath: "inbox",
    notifyOnInbox: false,
    remotePath: REMOTE,
    localPath: "",
    interval: 0,
    timeout: 0,
    onSessionStart: false,
    onSessionEnd: false,
    conflictResolve: "newer",
    exclude: ["**/.DS_Store"],
    copySymlinks: false,
    maxDelete: 50,
    concurrency: 4,
    ...overrides,
  };
}

/** A bisync between a workspace and a local provider folder, in a temp folder removed after the test. */
export interface LocalBisync {
  ws: string;
  /** The local provider's root (the synced folder is `<cloudRoot>/<settings.remotePath>`). */
  cloudRoot: string;
  stateDir: string;
  provider: StorageProvider;
  settings: SyncSettings;
  /** One sync run. */
  run: () => Promise<SyncRunResult>;
}

/** Sets up a {@link LocalBisync} (the workspace folder made, empty) under a temp folder named `prefix…`. */
export async function localBisync(t: { after: (fn: () => Promise<void>) => void }, prefix: string): Promise<LocalBisync> {
  const { dir, cleanup } = await tempDir(prefix);
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const cloudRoot = path.join(dir, "cloud");
  const stateDir = path.join(dir, "state");
  await fsp.mkdir(ws, { recursive: true });
  const provider = createLocalProvider({ root: cloudRoot });
  const settings = syncSettings({ mode: "bisync" });
  return { ws, cloudRoot, stateDir, provider, settings, run: () => runSyncWithProvider({ settings, provider, workspaceDir: ws, stateDir }) };
}

/** A logger that keeps lines for assertions. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
    debug: () => undefined,
  };
}

/** Counts and optionally sabotages provider calls. */
export interface Instrumented extends StorageProvider {
  counts: { write: number; read: number; delete: number; list: number };
}

/** Wraps a provider: counts calls; `failWriteAt` throws on that write (1-based); `failList` throws on list; capability overrides. */
export function instrument(
  inner: StorageProvider,
  opts: { failWriteAt?: number; failList?: boolean; capabilities?: Partial<StorageProvider["capabilities"]>; onWrite?: (n: number) => void; slowWriteMs?: number } = {},
): Instrumented {
  const counts = { write: 0, read: 0, delete: 0, list: 0 };
  const p: Instrumented = {
    counts,
    description: inner.description,
    capabilities: { ...inner.capabilities, ...opts.capabilities },
    list(dir, o) {
      counts.list++;
      if (opts.failList) {
        return (async function* (): AsyncGenerator<RemoteEntry> {
          throw new WorkspaceSyncError("NETWORK", "simulated listing failure", { retryable: true });
        })();
      }
      return inner.list(dir, o);
    },
    stat: (x, o) => inner.stat(x, o),
    ...(inner.statListed && { statListed: (x: string, o?: { signal?: AbortSignal }) => inner.statListed!(x, o) }),
    read(x, o) {
      counts.read++;
      return inner.read(x, o);
    },
    async write(x, source, o) {
      const n = ++counts.write;
      opts.onWrite?.(n);
      if (opts.slowWriteMs) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, opts.slowWriteMs);
          o?.signal?.addEventListener("abort", () => {
            clearTimeout(t);
            reject(o.signal!.reason);
          });
        });
      }
      if (opts.failWriteAt === n) {
        source.destroy();
        throw new WorkspaceSyncError("NETWORK", `simulated failure on write ${n}`, { retryable: true });
      }
      return inner.write(x, source, o);
    },
    async delete(x, o) {
      counts.delete++;
      return inner.delete(x, o);
    },
    async deleteMany(paths, o) {
      counts.delete += paths.length;
      return inner.deleteMany(paths, o);
    },
    ensureDir: (d, o) => inner.ensureDir(d, o),
    check: (o) => inner.check(o),
    cleanupIncomplete: (d, ms, o) => inner.cleanupIncomplete(d, ms, o),
  };
  if (inner.hashLocalFile) p.hashLocalFile = inner.hashLocalFile.bind(inner);
  return p;
}

/** Everything one scenario works with. */
interface Env {
  tmp: string;
  ws: string;
  stateDir: string;
  provider: StorageProvider;
  cleanup?: () => Promise<void>;
}

function ok(r: SyncRunResult): SyncRunSuccess {
  if (!r.ok) assert.fail(`sync failed: ${r.code} ${r.error}`);
  return r;
}

/** Registers the whole behaviour suite for one provider. */
export function describeSyncSuite(name: string, makeProvider: MakeProvider, options: SyncSuiteOptions = {}): void {
  describe(`sync over ${name}`, options.skip ? { skip: options.skip } : {}, () => {
    let env: Env;

    beforeEach(async () => {
      const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-test-"));
      const made = await makeProvider(path.join(tmp, "cloud"));
      env = { tmp, ws: path.join(tmp, "ws"), stateDir: path.join(tmp, "state"), provider: made.provider, cleanup: made.cleanup };
      await fsp.mkdir(env.ws, { recursive: true });
    });
    afterEach(async () => {
      await env.cleanup?.();
      await fsp.rm(env.tmp, { recursive: true, force: true });
    });

    // ---- helpers -------------------------------------------------------------------------
    const wsPath = (rel: string): string => path.join(env.ws, ...rel.split("/"));
    const writeWs = async (rel: string, content: string, mtime?: Date): Promise<void> => {
      await fsp.mkdir(path.dirname(wsPath(rel)), { recursive: true });
      await fsp.writeFile(wsPath(rel), content);
      if (mtime) await fsp.utimes(wsPath(rel), mtime, mtime);
    };
    const readWs = (rel: string): Promise<string> => fsp.readFile(wsPath(rel), "utf8");
    const listWs = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      const visit = async (dir: string, rel: string): Promise<void> => {
        for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
          const r = rel ? `${rel}/${d.name}` : d.name;
          if (d.isDirectory()) await visit(path.join(dir, d.name), r);
          else if (d.isFile()) out[r] = await fsp.readFile(path.join(dir, d.name), "utf8");
          else if (d.isSymbolicLink()) out[r] = `-> ${await fsp.readlink(path.join(dir, d.name))}`;
        }
      };
      await visit(env.ws, "");
      return out;
    };
    const cloudKey = (rel: string): string => `${REMOTE}/${rel}`;
    const putCloud = async (rel: string, content: string, mtime?: Date): Promise<void> => {
      await env.provider.write(cloudKey(rel), Readable.from([Buffer.from(content)]), { mtime, sizeHint: Buffer.byteLength(content) });
    };
    const readCloud = async (rel: string): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const c of await env.provider.read(cloudKey(rel))) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    };
    const listCloud = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      const paths: string[] = [];
      for await (const e of env.provider.list(REMOTE)) paths.push(e.path);
      for (const p of paths.sort()) out[p] = await readCloud(p);
      return out;
    };
    const delCloud = (rel: string): Promise<void> => env.provider.delete(cloudKey(rel));
    const run = (settings: Partial<SyncSettings>, extra: Partial<RunSyncWithProviderOptions> = {}): Promise<SyncRunResult> =>
      runSyncWithProvider({
        settings: syncSettings(settings),
        provider: env.provider,
        workspaceDir: env.ws,
        stateDir: env.stateDir,
        ...extra,
      });
    const later = (s: number): Date => new Date(Date.now() + s * 1000);

    // ---- mailbox -------------------------------------------------------------------------
    describe("mailbox", () => {
      it("moves a file dropped in the cloud _outbox into _inbox once, and never pushes _inbox", async () => {
        await writeWs("notes.md", "agent notes");
        const first = ok(await run({ mode: "mailbox" }));
        assert.deepEqual(first.uploaded, ["notes.md"]);
        assert.equal((await fsp.stat(wsPath("_inbox"))).isDirectory(), true);

        await putCloud("_outbox/report.pdf", "pdf bytes");
        await putCloud("_outbox/sub/data.csv", "a,b");
        const calls: Array<[string[], string]> = [];
        const second = ok(await run({ mode: "mailbox" }, { onInboxFiles: (names, text) => void calls.push([names, text]) }));
        assert.deepEqual(second.inboxFiles, ["report.pdf", "sub/data.csv"]);
        assert.deepEqual(calls, [[["report.pdf", "sub/data.csv"], "[workspace-sync] New files in _inbox: report.pdf, sub/data.csv"]]);
        assert.equal(await readWs("_inbox/report.pdf"), "pdf bytes");
        assert.equal(await readWs("_inbox/sub/data.csv"), "a,b");
        const cloud = await listCloud();
        assert.deepEqual(Object.keys(cloud).sort(), ["notes.md"], "outbox drained and _inbox never pushed");

        const third = ok(await run({ mode: "mailbox" }, { onInboxFiles: () => assert.fail("no new files") }));
        assert.deepEqual(third.inboxFiles, []);
        assert.deepEqual(third.uploaded, []);
        assert.equal(await readWs("_inbox/report.pdf"), "pdf bytes");
      });

      it("a newer version put in the cloud _outbox while the old one is moved stays there, and the next run moves it too", async () => {
        await putCloud("_outbox/report.txt", "version 1", later(-100));
        let replaced = false;
        // The user drops a new version once the old one's download has begun.
        const racing: StorageProvider = {
          ...env.provider,
          read: async (p, o) => {
            const stream = await env.provider.read(p, o);
            if (!replaced && p.endsWith("_outbox/report.txt")) {
              replaced = true;
              await putCloud("_outbox/report.txt", "version 2, newer");
            }
            return stream;
          },
        };
        const r = ok(await run({ mode: "mailbox" }, { provider: racing }));
        assert.ok(replaced);
        assert.deepEqual(r.inboxFiles, ["report.txt"]);
        assert.equal(await readWs("_inbox/report.txt"), "version 1");
        assert.equal(await readCloud("_outbox/report.txt"), "version 2, newer", "the version not moved is kept");
        const again = ok(await run({ mode: "mailbox" }));
        assert.deepEqual(again.inboxFiles, ["report (1).txt"]);
        assert.equal(await readWs("_inbox/report (1).txt"), "version 2, newer");
        assert.deepEqual(Object.keys(await listCloud()).filter((k) => k.startsWith("_outbox/")), []);
      });

      it("never overwrites a name already in _inbox: the new file gets (1), (2)", async () => {
        await writeWs("_inbox/a.pdf", "old");
        await putCloud("_outbox/a.pdf", "new one");
        ok(await run({ mode: "mailbox" }));
        await putCloud("_outbox/a.pdf", "newer one");
        const r = ok(await run({ mode: "mailbox" }));
        assert.deepEqual(r.inboxFiles, ["a (2).pdf"]);
        assert.equal(await readWs("_inbox/a.pdf"), "old");
        assert.equal(await readWs("_inbox/a (1).pdf"), "new one");
        assert.equal(await readWs("_inbox/a (2).pdf"), "newer one");
      });

      it("the first push does not delete cloud-only files; later only files it pushed", async () => {
        await putCloud("theirs.txt", "not ours");
        await writeWs("mine.txt", "mine");
        await writeWs("gone.txt", "will be deleted");
        await writeWs("keep1.txt", "1");
        await writeWs("keep2.txt", "2");
        const first = ok(await run({ mode: "mailbox" }));
        assert.deepEqual(first.deleted, []);
        assert.ok(first.skipped?.some((s) => s.path === "theirs.txt"), "cloud-only file reported");
        await fsp.rm(wsPath("gone.txt"));
        const second = ok(await run({ mode: "mailbox" }));
        assert.deepEqual(second.deleted, ["gone.txt"]);
        assert.deepEqual(Object.keys(await listCloud()).sort(), ["keep1.txt", "keep2.txt", "mine.txt", "theirs.txt"]);
      });

      it("a drain interrupted after the copy does not duplicate the file", async () => {
        await writeWs("_inbox/sent.txt", "payload");
        await putCloud("_outbox/sent.txt", "payload"); // as if the cloud delete had not happened
        const r = ok(await run({ mode: "mailbox" }));
        assert.deepEqual(r.inboxFiles, []);
        assert.deepEqual(Object.keys(await listWs()).sort(), ["_inbox/sent.txt"]);
        assert.deepEqual(await listCloud(), {});
      });

      it("excluded names are not drained", async () => {
        // Dropbox refuses to store `.DS_Store` at all: there the junk is only a user-excluded name.
        const junk = env.provider.capabilities.ignoredNames?.includes(".ds_store") ? [] : ["_outbox/.DS_Store"];
        for (const j of junk) await putCloud(j, "finder junk");
        await putCloud("_outbox/upload.partial", "half a file");
        await putCloud("_outbox/real.txt", "real");
        const logger = memoryLogger();
        const r = ok(await run({ mode: "mailbox", exclude: ["**/.DS_Store", "*.partial"] }, { logger, onInboxFiles: () => Promise.reject(new Error("agent offline")) }));
        assert.ok(logger.lines.includes("warn [workspace-sync] Inbox notification error: agent offline"), "a failing callback is only logged");
        assert.deepEqual(r.inboxFiles, ["real.txt"]);
        for (const j of junk) assert.equal(await readCloud(j), "finder junk");
        assert.equal(await readCloud("_outbox/upload.partial"), "half a file");
        assert.deepEqual(Object.keys(await listWs()).sort(), ["_inbox/real.txt"]);
      });

      it("drains even when the push fails", async () => {
        await writeWs("a.txt", "a");
        ok(await run({ mode: "mailbox" }));
        await fsp.rm(wsPath("a.txt")); // would delete 1 of 1 cloud files: over maxDelete
        await putCloud("_outbox/in.txt", "hello");
        const r = await run({ mode: "mailbox" });
        assert.equal(r.ok, false);
        assert.equal(!r.ok && r.code, "SYNC_SAFETY_ABORT");
        assert.equal(await readWs("_inbox/in.txt"), "hello");
        assert.equal(await readCloud("a.txt"), "a");
      });
    });

    // ---- mirror ---------------------------------------------------------------------------
    describe("mirror", () => {
      it("makes the cloud a copy of the workspace and never touches the workspace", async () => {
        await writeWs("a.txt", "A");
        await writeWs("dir/b.txt", "B");
        await writeWs("dir/c.txt", "C");
        await writeWs("d.txt", "D");
        ok(await run({ mode: "mirror" }));
        assert.deepEqual(await listCloud(), { "a.txt": "A", "d.txt": "D", "dir/b.txt": "B", "dir/c.txt": "C" });

        // Cloud-side edits, additions and deletions do not reach the workspace.
        await putCloud("a.txt", "edited in cloud");
        await putCloud("extra.txt", "cloud only");
        await delCloud("dir/b.txt");
        const before = await listWs();
        await writeWs("d.txt", "D2");
        await fsp.rm(wsPath("dir/c.txt"));
        const after = { ...before, "d.txt": "D2" } as Record<string, string>;
        delete after["dir/c.txt"];
        const r = ok(await run({ mode: "mirror" }));
        assert.deepEqual(r.downloaded, []);
        assert.deepEqual(await listWs(), after);
        assert.deepEqual(await listCloud(), { "a.txt": "A", "d.txt": "D2", "dir/b.txt": "B", "extra.txt": "cloud only" });
        assert.deepEqual(r.deleted, ["dir/c.txt"]);
      });

      it("ingest copies the cloud ingest folder into the workspace, additively", async () => {
        await writeWs("work.md", "w");
        await writeWs("inbox/clash.txt", "local version");
        await writeWs("inbox/local-only.txt", "never pushed");
        await putCloud("inbox/new.txt", "from cloud");
        // An hour apart: same size, so only the time tells them apart before their contents (a cloud
        // that stamps whole seconds could otherwise land within the comparison's 1 ms of the workspace copy).
        await putCloud("inbox/clash.txt", "cloud version", later(-3600));
        const r = ok(await run({ mode: "mirror", ingest: true }));
        assert.deepEqual(r.inboxFiles, ["inbox/clash (1).txt", "inbox/new.txt"]);
        assert.equal(await readWs("inbox/new.txt"), "from cloud");
        assert.equal(await readWs("inbox/clash.txt"), "local version");
        assert.equal(await readWs("inbox/clash (1).txt"), "cloud version");
        const cloud = await listCloud();
        assert.deepEqual(cloud, { "inbox/clash.txt": "cloud version", "inbox/new.txt": "from cloud", "work.md": "w" }, "ingest folder left alone by the push");

        // Deleting the ingested copy locally neither deletes it in the cloud nor brings it back.
        await fsp.rm(wsPath("inbox/new.txt"));
        const again = ok(await run({ mode: "mirror", ingest: true }));
        assert.deepEqual(again.inboxFiles, []);
        assert.equal(await readCloud("inbox/new.txt"), "from cloud");
        await fsp.access(wsPath("inbox/new.txt")).then(
          () => assert.fail("re-ingested"),
          () => undefined,
        );
      });
    });

    // ---- bisync ---------------------------------------------------------------------------
    describe("bisync", () => {
      it("propagates creates, updates and deletes both ways", async () => {
        for (let i = 0; i < 6; i++) await writeWs(`f${i}.txt`, `v${i}`);
        await putCloud("c0.txt", "cloud 0");
        ok(await run({}));
        assert.deepEqual(Object.keys(await listCloud()).sort(), ["c0.txt", "f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt"]);
        assert.equal(await readWs("c0.txt"), "cloud 0");

        await writeWs("f0.txt", "local update", later(10));
        await writeWs("new-local.txt", "nl");
        await fsp.rm(wsPath("f1.txt"));
        await putCloud("f2.txt", "cloud update", later(20));
        await putCloud("sub/new-cloud.txt", "nc");
        await delCloud("f3.txt");
        const r = ok(await run({}));
        assert.deepEqual(r.uploaded, ["f0.txt", "new-local.txt"]);
        assert.deepEqual(r.downloaded, ["f2.txt", "sub/new-cloud.txt"]);
        assert.deepEqual(r.deleted, ["f1.txt", "f3.txt"]);
        const expected = { "c0.txt": "cloud 0", "f0.txt": "local update", "f2.txt": "cloud update", "f4.txt": "v4", "f5.txt": "v5", "new-local.txt": "nl", "sub/new-cloud.txt": "nc" };
        assert.deepEqual(await listWs(), expected);
        assert.deepEqual(await listCloud(), expected);
      });

      it("a no-change run transfers nothing", async () => {
        const counted = instrument(env.provider);
        env.provider = counted;
        for (let i = 0; i < 5; i++) await writeWs(`d/f${i}.txt`, `content ${i}`);
        await putCloud("c.txt", "cloud");
        ok(await run({}));
        const w = counted.counts.write;
        const rd = counted.counts.read;
        const r = ok(await run({}));
        assert.deepEqual([r.uploaded, r.downloaded, r.deleted, r.conflicts], [[], [], [], []]);
        assert.equal(counted.counts.write, w);
        assert.equal(counted.counts.read, rd);
        for (const mode of ["mirror", "mailbox"] as const) {
          ok(await run({ mode }));
          const w2 = counted.counts.write;
          const r2 = counted.counts.read;
          const again = ok(await run({ mode }));
          assert.deepEqual(again.uploaded, [], mode);
          assert.equal(counted.counts.write, w2, mode);
          assert.equal(counted.counts.read, r2, mode);
        }
      });

      it("a conflict keeps both copies (newer wins by default)", async () => {
        await writeWs("doc.txt", "base");
        await writeWs("other.txt", "x");
        ok(await run({}));
        await writeWs("doc.txt", "local edit", later(-100)); // older than the cloud edit for either listMtime kind;
        await putCloud("doc.txt", "cloud edit, newer", later(200));
        const r = ok(await run({}));
        assert.deepEqual(r.conflicts, ["doc.txt"]);
        const expected = { "doc.txt": "cloud edit, newer", "doc.txt.conflict": "local edit", "other.txt": "x" };
        assert.deepEqual(await listWs(), expected);
        assert.deepEqual(await listCloud(), expected);

        // Next conflict: the workspace copy is newer; the name .conflict is taken, so .conflict1.
        await writeWs("doc.txt", "local again", later(400));
        await putCloud("doc.txt", "cloud again", later(300));
        const r2 = ok(await run({}));
        assert.deepEqual(r2.conflicts, ["doc.txt"]);
        const expected2 = { ...expected, "doc.txt": "local again", "doc.txt.conflict1": "cloud again" };
        assert.deepEqual(await listWs(), expected2);
        assert.deepEqual(await listCloud(), expected2);
        const r3 = ok(await run({}));
        assert.deepEqual([r3.uploaded, r3.downloaded, r3.conflicts], [[], [], []]);
      });

      it("conflictResolve local / remote pick the winner regardless of time", async () => {
        await writeWs("a.txt", "base");
        await writeWs("b.txt", "base");
        ok(await run({}));
        await writeWs("a.txt", "local a", later(10));
        await putCloud("a.txt", "cloud a", later(50));
        ok(await run({ conflictResolve: "local" }));
        assert.equal(await readWs("a.txt"), "local a");
        assert.equal(await readCloud("a.txt"), "local a");
        assert.equal(await readWs("a.txt.conflict"), "cloud a");
        await writeWs("b.txt", "local b", later(50));
        await putCloud("b.txt", "cloud b", later(10));
        ok(await run({ conflictResolve: "remote" }));
        assert.equal(await readWs("b.txt"), "cloud b");
        assert.equal(await readCloud("b.txt.conflict"), "local b");
      });

      it("the first run merges without deleting; equal files are left alone", async () => {
        await writeWs("local-only.txt", "L");
        await writeWs("same.txt", "identical");
        await writeWs("diff.txt", "local side", later(-100));
        await putCloud("cloud-only.txt", "C");
        await putCloud("same.txt", "identical");
        await putCloud("diff.txt", "cloud side", later(100));
        const r = ok(await run({}));
        assert.deepEqual(r.deleted, []);
        assert.deepEqual(r.conflicts, ["diff.txt"]);
        assert.ok(!r.uploaded.includes("same.txt") && !r.downloaded.includes("same.txt"));
        const expected = {
          "cloud-only.txt": "C",
          "diff.txt": "cloud side",
          "diff.txt.conflict": "local side",
          "local-only.txt": "L",
          "same.txt": "identical",
        };
        assert.deepEqual(await listWs(), expected);
        assert.deepEqual(await listCloud(), expected);
      });

      it("a file on one side and a folder of that name on the other: both kept and reported, the other files sync, on every run", async () => {
        await writeWs("notes", "workspace file notes");
        await writeWs("docs/a.txt", "workspace docs/a");
        await writeWs("other.txt", "other");
        await putCloud("notes/a.txt", "cloud notes/a");
        await putCloud("docs", "cloud file docs");
        await putCloud("cloud.txt", "cloud");
        for (let i = 1; i <= 3; i++) {
          const r = ok(await run({}));
          assert.deepEqual(r.deleted, [], `run ${i}`);
          const skipped = (r.skipped ?? []).map((s) => s.path);
          for (const p of ["notes/a.txt", "docs"]) assert.ok(skipped.includes(p), `run ${i}: ${p} reported: ${JSON.stringify(r.skipped)}`);
        }
        assert.equal(await readWs("notes"), "workspace file notes");
        assert.equal(await readWs("docs/a.txt"), "workspace docs/a");
        assert.equal(await readWs("cloud.txt"), "cloud");
        assert.equal(await readCloud("notes/a.txt"), "cloud notes/a");
        assert.equal(await readCloud("docs"), "cloud file docs");
        assert.equal(await readCloud("other.txt"), "other");
      });

      it("a cloud file edited during the run is not deleted though the workspace deleted it; the next run brings the edit back", async () => {
        await writeWs("gone.txt", "v1");
        await writeWs("keep.txt", "keep");
        for (let i = 0; i < 4; i++) await writeWs(`other${i}.txt`, "other");
        ok(await run({}));
        await fsp.rm(wsPath("gone.txt"));
        await writeWs("new.txt", "new");
        // The cloud's user edits the file while this run uploads new.txt (after its listing).
        let edited = false;
        const racing: StorageProvider = {
          ...env.provider,
          write: async (p, source, o) => {
            if (!edited && p.endsWith("/new.txt")) {
              edited = true;
              await putCloud("gone.txt", "v2, edited in the cloud", later(30));
            }
            return env.provider.write(p, source, o);
          },
        };
        const r = ok(await run({}, { provider: racing }));
        assert.ok(edited);
        assert.deepEqual(r.deleted, []);
        assert.equal(await readCloud("gone.txt"), "v2, edited in the cloud");
        const again = ok(await run({}));
        assert.deepEqual(again.downloaded, ["gone.txt"]);
        assert.equal(await readWs("gone.txt"), "v2, edited in the cloud");
      });

      it("after losing the state a run loses nothing", async () => {
        for (let i = 0; i < 4; i++) await writeWs(`f${i}.txt`, `v${i}`);
        ok(await run({}));
        await fsp.rm(env.stateDir, { recursive: true, force: true });
        await fsp.rm(wsPath("f0.txt"));
        await delCloud("f1.txt");
        await writeWs("f2.txt", "changed locally", later(50));
        const r = ok(await run({}));
        assert.deepEqual(r.deleted, []);
        // Without state the old cloud f2 cannot be told from a cloud edit: it is kept beside the newer local one.
        const expected = { "f0.txt": "v0", "f1.txt": "v1", "f2.txt": "changed locally", "f2.txt.conflict": "v2", "f3.txt": "v3" };
        assert.deepEqual(await listWs(), expected);
        assert.deepEqual(await listCloud(), expected);
      });

      it("aborts before deleting more than maxDelete percent", async () => {
        for (let i = 0; i < 4; i++) await writeWs(`f${i}.txt`, `v${i}`);
        ok(await run({}));
        for (let i = 0; i < 3; i++) await fsp.rm(wsPath(`f${i}.txt`));
        await writeWs("new.txt", "n");
        const r = await run({});
        assert.equal(r.ok, false);
        assert.equal(!r.ok && r.code, "SYNC_SAFETY_ABORT");
        assert.match(!r.ok ? r.error : "", /3 of 4 files in the cloud/);
        assert.equal(Object.keys(await listCloud()).length, 4, "nothing deleted, nothing uploaded");
        const r2 = ok(await run({ maxDelete: 100 }));
        assert.deepEqual(r2.deleted, ["f0.txt", "f1.txt", "f2.txt"]);
      });

      it("aborts when one side lists empty but held files before", async () => {
        for (let i = 0; i < 3; i++) await writeWs(`f${i}.txt`, `v${i}`);
        ok(await run({}));
        for (const mode of ["bisync", "mirror", "mailbox"] as const) {
          ok(await run({ mode }));
          await fsp.rename(env.ws, `${env.ws}.away`); // the mount is gone
          const r = await run({ mode });
          assert.equal(!r.ok && r.code, "SYNC_SAFETY_ABORT", mode);
          assert.equal(Object.keys(await listCloud()).length, 3, mode);
          await fsp.rm(env.ws, { recursive: true, force: true });
          await fsp.rename(`${env.ws}.away`, env.ws);
        }
        // Wrong remotePath: the cloud side is empty.
        const other = await run({ remotePath: "elsewhere" });
        assert.equal(other.ok, true, "a different remotePath has its own state: a first run");
        ok(await run({}));
        for (let i = 0; i < 3; i++) await delCloud(`f${i}.txt`);
        const r = await run({});
        assert.equal(!r.ok && r.code, "SYNC_SAFETY_ABORT");
        assert.deepEqual(Object.keys(await listWs()).sort(), ["f0.txt", "f1.txt", "f2.txt"]);
      });

      it("a listing error aborts without deleting", async () => {
        for (let i = 0; i < 4; i++) await writeWs(`f${i}.txt`, `v${i}`);
        ok(await run({}));
        const inner = env.provider;
        env.provider = instrument(inner, { failList: true });
        const r = await run({});
        assert.equal(r.ok, false);
        assert.equal(!r.ok && r.code, "NETWORK");
        assert.match(!r.ok ? r.error : "", /Could not list the cloud folder/);
        assert.equal(Object.keys(await listWs()).length, 4);
        env.provider = inner;
        ok(await run({}));
        assert.equal(Object.keys(await listWs()).length, 4);
      });

      it("excluded files are never transferred or deleted; an exclude change makes a safe merge", async () => {
        await writeWs("a.txt", "a");
        await writeWs("b.txt", "b");
        await writeWs("c.txt", "c");
        await writeWs(".DS_Store", "junk");
        await writeWs("x.log", "log");
        await putCloud("remote.log", "cloud log");
        ok(await run({ exclude: ["**/.DS_Store", "*.log"] }));
        assert.deepEqual(Object.keys(await listCloud()).sort(), ["a.txt", "b.txt", "c.txt", "remote.log"]);
        assert.equal((await listWs())["remote.log"], undefined);

        // Change the excludes and delete a.txt locally: the next run must not delete it in the cloud.
        await fsp.rm(wsPath("a.txt"));
        const r = ok(await run({ exclude: ["**/.DS_Store"] }));
        assert.deepEqual(r.deleted, []);
        assert.equal(await readWs("a.txt"), "a", "copied back");
        assert.equal(await readWs("remote.log"), "cloud log");
        assert.equal(await readCloud("x.log"), "log");
        // With the same excludes again, deletions work normally.
        await writeWs("d.txt", "d");
        await fsp.rm(wsPath("a.txt"));
        const r2 = ok(await run({ exclude: ["**/.DS_Store"] }));
        assert.deepEqual(r2.deleted, ["a.txt"]);
      });

      it("a dry run reports the plan and changes nothing", async () => {
        await writeWs("a.txt", "a");
        await writeWs("b.txt", "b");
        ok(await run({}));
        await writeWs("new.txt", "n");
        await putCloud("cloud.txt", "c");
        await writeWs("a.txt", "a2", later(5));
        const wsBefore = await listWs();
        const cloudBefore = await listCloud();
        const stateFile = statePathFor(env.stateDir, { description: env.provider.description, remotePath: REMOTE, workspace: env.ws });
        const stateBefore = await fsp.readFile(stateFile, "utf8");
        const r = ok(await run({}, { dryRun: true }));
        assert.equal(r.dryRun, true);
        assert.deepEqual(r.uploaded, ["a.txt", "new.txt"]);
        assert.deepEqual(r.downloaded, ["cloud.txt"]);
        assert.deepEqual(await listWs(), wsBefore);
        assert.deepEqual(await listCloud(), cloudBefore);
        assert.equal(await fsp.readFile(stateFile, "utf8"), stateBefore);
        // Also for mailbox: a dry run neither drains nor creates folders.
        await putCloud("_outbox/m.txt", "mail");
        const m = ok(await run({ mode: "mailbox" }, { dryRun: true }));
        assert.deepEqual(m.inboxFiles, ["m.txt"]);
        assert.equal(await readCloud("_outbox/m.txt"), "mail");
        assert.deepEqual(await listWs(), wsBefore);
      });

      it("two overlapping runs: the second fails with LOCKED", async () => {
        for (let i = 0; i < 3; i++) await writeWs(`f${i}.txt`, `v${i}`);
        env.provider = instrument(env.provider, { slowWriteMs: 50 });
        const [a, b] = await Promise.all([run({}), run({})]);
        const codes = [a, b].map((r) => (r.ok ? "ok" : r.code)).sort();
        assert.deepEqual(codes, ["LOCKED", "ok"]);
        ok(await run({}));
      });

      it("a lock held by a live process fails with LOCKED naming it; a dead pid's lock is taken over", async () => {
        await writeWs("a.txt", "a");
        const stateFile = statePathFor(env.stateDir, { description: env.provider.description, remotePath: REMOTE, workspace: env.ws });
        await fsp.mkdir(path.dirname(stateFile), { recursive: true });
        // Live: the parent of this test process.
        await fsp.writeFile(`${stateFile}.lock`, JSON.stringify({ pid: process.ppid, hostname: os.hostname(), time: new Date().toISOString() }));
        const r = await run({});
        assert.equal(!r.ok && r.code, "LOCKED");
        assert.match(!r.ok ? r.error : "", new RegExp(`pid ${process.ppid}`));
        // Dead: a process that has exited.
        const child = spawnSync(process.execPath, ["-e", "process.exit(0)"]);
        assert.ok(child.pid);
        await fsp.writeFile(`${stateFile}.lock`, JSON.stringify({ pid: child.pid, hostname: os.hostname(), time: new Date().toISOString() }));
        ok(await run({}));
        await fsp.access(`${stateFile}.lock`).then(
          () => assert.fail("lock left behind"),
          () => undefined,
        );
      });

      it("a run that fails part-way is redone by the next run with nothing lost", async () => {
        for (let i = 0; i < 8; i++) await writeWs(`f${i}.txt`, `v${i}`);
        await putCloud("c.txt", "cloud");
        ok(await run({}));
        for (let i = 0; i < 8; i++) await writeWs(`f${i}.txt`, `version two of ${i}`, later(10));
        await putCloud("d.txt", "cloud d");
        const inner = env.provider;
        env.provider = instrument(inner, { failWriteAt: 4 });
        const failed = await run({ concurrency: 2 });
        assert.equal(failed.ok, false);
        env.provider = inner;
        const r = ok(await run({}));
        assert.deepEqual(r.conflicts, []);
        const expected: Record<string, string> = { "c.txt": "cloud", "d.txt": "cloud d" };
        for (let i = 0; i < 8; i++) expected[`f${i}.txt`] = `version two of ${i}`;
        assert.deepEqual(await listWs(), expected);
        assert.deepEqual(await listCloud(), expected);
      });

      it("an abort after some transfers leaves a state the next run converges from", async () => {
        for (let i = 0; i < 10; i++) await writeWs(`f${i}.txt`, `v${i}`);
        const controller = new AbortController();
        const inner = env.provider;
        env.provider = instrument(inner, { onWrite: (n) => n === 3 && controller.abort(new Error("stop")) });
        const r = await run({ concurrency: 1 }, { signal: controller.signal });
        assert.equal(!r.ok && r.code, "ABORTED");
        env.provider = inner;
        ok(await run({}));
        const expected: Record<string, string> = {};
        for (let i = 0; i < 10; i++) expected[`f${i}.txt`] = `v${i}`;
        assert.deepEqual(await listWs(), expected);
        assert.deepEqual(await listCloud(), expected);
      });

      it("timeout stops a run cleanly with TIMEOUT", async () => {
        for (let i = 0; i < 3; i++) await writeWs(`f${i}.txt`, `v${i}`);
        env.provider = instrument(env.provider, { slowWriteMs: 5000 });
        const r = await run({ timeout: 0.2 });
        assert.equal(!r.ok && r.code, "TIMEOUT");
      });

      it("only our own download temp files are hidden and stale ones removed; user files named like them sync", async () => {
        const token = installToken(env.stateDir);
        const crashed = syncTempName(token);
        const inFlight = syncTempName(token);
        const old = new Date(Date.now() - 2 * 3600_000);
        await writeWs("a.txt", "a");
        await writeWs(crashed, "left by a crash", old);
        await writeWs(`sub/${inFlight}`, "in flight elsewhere");
        await writeWs(".ws-sync-old.tmp", "a user file", old);
        const r = ok(await run({}));
        assert.deepEqual(r.uploaded, [".ws-sync-old.tmp", "a.txt"]);
        assert.deepEqual(Object.keys(await listCloud()).sort(), [".ws-sync-old.tmp", "a.txt"]);
        assert.deepEqual(Object.keys(await listWs()).sort(), [".ws-sync-old.tmp", "a.txt", `sub/${inFlight}`]);
      });

      it("cloud names that would escape the workspace are skipped", async () => {
        await writeWs("a.txt", "a");
        const inner = env.provider;
        const evil: StorageProvider = {
          ...inner,
          async *list(dir, o) {
            yield* inner.list(dir, o);
            yield { path: "../../escape.txt", size: 3 };
            yield { path: "x/./y.txt", size: 3 };
          },
        };
        env.provider = evil;
        const r = ok(await run({}));
        assert.ok(r.skipped?.some((s) => s.path === "../../escape.txt"));
        assert.ok(r.skipped?.some((s) => s.path === "x/./y.txt"));
        assert.deepEqual(r.downloaded, []);
        await fsp.access(path.join(env.ws, "..", "..", "escape.txt")).then(
          () => assert.fail("escaped"),
          () => undefined,
        );
      });

      it("symlinks are skipped unless copySymlinks; then the target's content is copied", async () => {
        await writeWs("real.txt", "target content");
        await fsp.symlink(wsPath("real.txt"), wsPath("link.txt"));
        const r = ok(await run({}));
        assert.ok(r.skipped?.some((s) => s.path === "link.txt"));
        assert.deepEqual(Object.keys(await listCloud()), ["real.txt"]);
        // A cloud file of the same name never replaces the symlink.
        await putCloud("link.txt", "cloud file");
        const r2 = ok(await run({}));
        assert.deepEqual(r2.downloaded, []);
        assert.equal((await fsp.lstat(wsPath("link.txt"))).isSymbolicLink(), true);
        await delCloud("link.txt");
        ok(await run({ copySymlinks: true }));
        assert.equal(await readCloud("link.txt"), "target content");
        assert.equal((await fsp.lstat(wsPath("link.txt"))).isSymbolicLink(), true);
      });

      it("a name in another Unicode form (NFD vs NFC) is the same file", async () => {
        const nfd = "cafe\u0301.txt";
        const nfc = "caf\u00e9.txt";
        await writeWs(nfd, "decomposed name");
        await putCloud(nfc, "decomposed name");
        const r = ok(await run({}));
        assert.deepEqual([r.uploaded, r.downloaded, r.conflicts], [[], [], []]);
        await writeWs(nfd, "edited locally", later(30));
        const r2 = ok(await run({}));
        assert.deepEqual(r2.uploaded, [nfd]);
        assert.equal(await readCloud(nfc), "edited locally");
      });

      it("a symlink named in another Unicode form of a synced file or folder leaves both alone: the cloud copy is never written over", async () => {
        const nfc = "caf\u00e9";
        const nfd = "cafe\u0301";
        await writeWs(`notes/${nfc}.txt`, "hello");
        await writeWs(`docs/${nfc}/x.txt`, "inside");
        await writeWs(`docs/${nfc}/y.txt`, "also inside");
        await writeWs("target.txt", "the link's target");
        ok(await run({}));
        ok(await run({}));
        // Twins that cannot sync (a symlink is never followed) appear beside the synced names, and
        // the cloud copies are edited meanwhile.
        await fsp.symlink(wsPath("target.txt"), wsPath(`notes/${nfd}.txt`));
        await fsp.symlink(wsPath("docs"), wsPath(`docs/${nfd}`));
        await putCloud(`notes/${nfc}.txt`, "CLOUD EDIT", later(30));
        await putCloud(`docs/${nfc}/x.txt`, "CLOUD EDIT INSIDE", later(30));
        for (let i = 0; i < 2; i++) {
          const logger = memoryLogger();
          const r = ok(await run({}, { logger }));
          assert.deepEqual([r.uploaded, r.deleted], [[], []], `run ${i + 1}`);
          assert.equal(await readCloud(`notes/${nfc}.txt`), "CLOUD EDIT");
          assert.equal(await readCloud(`docs/${nfc}/x.txt`), "CLOUD EDIT INSIDE");
          assert.equal(await readWs(`notes/${nfc}.txt`), "hello");
          assert.equal(await readWs(`docs/${nfc}/x.txt`), "inside");
          for (const p of [`notes/${nfc}.txt`, `docs/${nfc}/x.txt`, `docs/${nfc}/y.txt`]) assert.ok(r.skipped?.some((s) => s.path === p), `${p} reported as left alone (run ${i + 1})`);
          // One warning for the folder, not one a file under it.
          assert.deepEqual(
            logger.lines.filter((l) => l.startsWith("warn ") && l.includes(`docs/${nfc}`)).map((l) => l.split(":")[0]),
            [`warn [workspace-sync] Skipping docs/${nfc}`],
          );
        }
        // The twins gone, the names sync again, their state entries having been set aside: both
        // versions differ and neither is lost (the cloud edit stays, the workspace's is kept too).
        await fsp.unlink(wsPath(`notes/${nfd}.txt`));
        await fsp.unlink(wsPath(`docs/${nfd}`));
        const r = ok(await run({}));
        assert.deepEqual(r.deleted, []);
        const cloud = Object.values(await listCloud());
        const ws = Object.values(await listWs());
        for (const text of ["CLOUD EDIT", "hello", "CLOUD EDIT INSIDE", "inside"]) {
          assert.ok(cloud.includes(text), `the cloud keeps ${JSON.stringify(text)}`);
          assert.ok(ws.includes(text), `the workspace keeps ${JSON.stringify(text)}`);
        }
      });

      it("a new cloud file spelled otherwise lands in the workspace folder of its key even when every file there is left alone", async () => {
        // proj-é/ holds only café/, which a symlink twin (cafe\u0301) leaves alone.
        const dir = "proj-\u00e9";
        await writeWs(`${dir}/caf\u00e9/a.txt`, "a");
        await writeWs("target.txt", "the link's target");
        ok(await run({}));
        await fsp.symlink(wsPath("target.txt"), wsPath(`${dir}/cafe\u0301`));
        // The cloud's spelling of the folder is the other Unicode form.
        await putCloud("proj-e\u0301/new.txt", "new in the cloud");
        const r = ok(await run({}));
        assert.deepEqual(r.downloaded, [`${dir}/new.txt`]);
        assert.equal(await readWs(`${dir}/new.txt`), "new in the cloud");
        assert.deepEqual((await fsp.readdir(env.ws)).filter((n) => n.startsWith("proj-")), [dir], "no second folder");
      });

      it("a symlink twin of a synced file appearing with nothing else changed is left alone as on a full run", async () => {
        const nfc = "caf\u00e9.txt";
        await writeWs(`notes/${nfc}`, "hello");
        await writeWs("target.txt", "the link's target");
        ok(await run({}));
        ok(await run({}));
        await fsp.symlink(wsPath("target.txt"), wsPath("notes/cafe\u0301.txt"));
        const r = ok(await run({}));
        assert.ok(r.skipped?.some((s) => s.path === `notes/${nfc}`), "the file is reported as left alone");
        assert.deepEqual([r.uploaded, r.downloaded, r.deleted], [[], [], []]);
      });

      it("case-insensitive providers: names differing only in case are reported and one is skipped; ignored names skipped", async () => {
        env.provider = instrument(env.provider, { capabilities: { caseInsensitive: true, ignoredNames: ["thumbs.db"] } });
        await writeWs("Readme.md", "one");
        await writeWs("README.md", "two");
        await writeWs("Thumbs.db", "x");
        await writeWs("ok.txt", "ok");
        const r = ok(await run({}));
        assert.equal(r.conflicts.length, 1);
        assert.ok(r.skipped?.some((s) => s.path === "Thumbs.db"));
        const cloud = Object.keys(await listCloud()).sort();
        assert.equal(cloud.length, 2);
        assert.ok(cloud.includes("ok.txt"));
      });
    });
  });
}

