/**
 * Issue 12 (sync part), provider-independent: sync never writes, renames or deletes through a
 * workspace symlink at any depth, never treats a user's file as its own temp file, and one name the
 * other side cannot hold never blocks the rest of a run. `describeSafetySuite(name, make)` runs every
 * scenario against the provider `make` builds; hostile cloud names that the backend itself cannot
 * store go through an in-memory overlay ({@link hostileCloud}) on top of it.
 */
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { SyncSettings } from "../src/config/types.js";
import type { StorageProvider } from "../src/providers/types.js";
import { runSyncWithProvider, type RunSyncWithProviderOptions } from "../src/sync/run.js";
import type { SyncRunResult, SyncRunSuccess } from "../src/sync/types.js";
import { hostileCloud, putHostile, type HostileCloud } from "./support/hostile-cloud.js";
import { treeFingerprint, treeDiff } from "./support/tree.js";
import { syncSettings } from "./sync-suite.js";

/** Builds a fresh provider for one scenario. */
export type MakeSafetyProvider = (dir: string) => Promise<{ provider: StorageProvider; cleanup?: () => Promise<void> }>;

/** Options of {@link describeSafetySuite}. */
export interface SafetySuiteOptions {
  skip?: string;
  /** The backend stores any key (S3): hostile names are real objects rather than overlay entries. */
  holdsAnyKey?: boolean;
}

const REMOTE = "share";

function ok(r: SyncRunResult): SyncRunSuccess {
  if (!r.ok) assert.fail(`sync failed: ${r.code} ${r.error}`);
  return r;
}

/** Registers the safety scenarios for one provider. */
export function describeSafetySuite(name: string, make: MakeSafetyProvider, options: SafetySuiteOptions = {}): void {
  describe(`sync safety over ${name}`, options.skip ? { skip: options.skip } : {}, () => {
    let tmp: string;
    let ws: string;
    let outside: string;
    let stateDir: string;
    let cloud: HostileCloud;
    let cleanup: (() => Promise<void>) | undefined;
    let outsideBefore: Map<string, string>;

    beforeEach(async () => {
      tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-safety-"));
      const made = await make(path.join(tmp, "cloud"));
      cloud = hostileCloud(made.provider);
      cleanup = made.cleanup;
      ws = path.join(tmp, "ws");
      outside = path.join(tmp, "elsewhere");
      stateDir = path.join(tmp, "state");
      await fsp.mkdir(ws, { recursive: true });
      await fsp.mkdir(path.join(outside, "sub"), { recursive: true });
      await fsp.writeFile(path.join(outside, "precious.txt"), "precious original");
      await fsp.writeFile(path.join(outside, "a.txt"), "outside a");
      await fsp.writeFile(path.join(outside, "sub", "b.txt"), "outside b");
      outsideBefore = await treeFingerprint(outside);
    });
    afterEach(async () => {
      await cleanup?.();
      await fsp.rm(tmp, { recursive: true, force: true });
    });

    const wsPath = (rel: string): string => path.join(ws, ...rel.split("/"));
    const writeWs = async (rel: string, content: string, mtime?: Date): Promise<void> => {
      await fsp.mkdir(path.dirname(wsPath(rel)), { recursive: true });
      await fsp.writeFile(wsPath(rel), content);
      if (mtime) await fsp.utimes(wsPath(rel), mtime, mtime);
    };
    const readWs = (rel: string): Promise<string> => fsp.readFile(wsPath(rel), "utf8");
    const existsWs = (rel: string): Promise<boolean> => fsp.lstat(wsPath(rel)).then(() => true, () => false);
    const link = async (rel: string, target = outside): Promise<void> => {
      await fsp.mkdir(path.dirname(wsPath(rel)), { recursive: true });
      await fsp.symlink(target, wsPath(rel));
    };
    const putCloud = async (rel: string, content: string, mtime?: Date): Promise<void> => {
      await cloud.write(`${REMOTE}/${rel}`, Readable.from([Buffer.from(content)]), { mtime, sizeHint: Buffer.byteLength(content) });
    };
    /** A cloud object with a name the backend may not be able to hold. */
    const putRaw = async (rel: string, content: string, mtime?: Date): Promise<void> => {
      if (options.holdsAnyKey) await putCloud(rel, content, mtime);
      else putHostile(cloud, `${REMOTE}/${rel}`, content, mtime);
    };
    const readCloud = async (rel: string): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const c of await cloud.read(`${REMOTE}/${rel}`)) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    };
    const cloudNames = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const e of cloud.list(REMOTE)) out.push(e.path);
      return out.sort();
    };
    const run = (settings: Partial<SyncSettings>, extra: Partial<RunSyncWithProviderOptions> = {}): Promise<SyncRunResult> =>
      runSyncWithProvider({ settings: syncSettings(settings), provider: cloud, workspaceDir: ws, stateDir, ...extra });
    const assertOutsideUntouched = async (): Promise<void> => {
      assert.deepEqual(treeDiff(outsideBefore, await treeFingerprint(outside)), [], "nothing outside the workspace changed");
    };
    const skippedPaths = (r: SyncRunSuccess): string[] => (r.skipped ?? []).map((s) => s.path);
    const reasonOf = (r: SyncRunSuccess, p: string): string => r.skipped?.find((s) => s.path === p)?.reason ?? "";

    // ---- symlinks ----------------------------------------------------------------------------
    describe("workspace symlinks", () => {
      it("bisync: a cloud file under a symlinked folder is never written through it, and the next run keeps the cloud copy", async () => {
        await writeWs("normal.txt", "n");
        await link("link");
        await link("deep/er/link2");
        await putCloud("link/precious.txt", "cloud version");
        await putCloud("deep/er/link2/sub/b.txt", "cloud b");
        await putCloud("ok.txt", "fine");
        const r1 = ok(await run({}));
        await assertOutsideUntouched();
        assert.deepEqual(r1.downloaded, ["ok.txt"]);
        assert.ok(skippedPaths(r1).includes("link/precious.txt"), JSON.stringify(r1.skipped));
        assert.match(reasonOf(r1, "link/precious.txt"), /symlink/);
        assert.ok(skippedPaths(r1).includes("deep/er/link2/sub/b.txt"));
        const r2 = ok(await run({}));
        await assertOutsideUntouched();
        assert.deepEqual(r2.deleted, []);
        assert.equal(await readCloud("link/precious.txt"), "cloud version");
        assert.equal(await readCloud("deep/er/link2/sub/b.txt"), "cloud b");
      });

      for (const mode of ["bisync", "mailbox", "mirror"] as const) {
        it(`${mode}: a synced folder replaced by a symlink keeps its cloud copies and is not written through`, async () => {
          await writeWs("docs/a.txt", "ws a");
          await writeWs("docs/sub/b.txt", "ws b");
          await writeWs("other.txt", "o");
          ok(await run({ mode }));
          await fsp.rm(wsPath("docs"), { recursive: true });
          await link("docs");
          for (let i = 0; i < 2; i++) {
            const r = ok(await run({ mode, maxDelete: 100 }));
            assert.deepEqual(r.deleted, [], `run ${i}`);
            await assertOutsideUntouched();
          }
          assert.equal(await readCloud("docs/a.txt"), "ws a");
          assert.equal(await readCloud("docs/sub/b.txt"), "ws b");
        });
      }

      it("mailbox: a symlinked _inbox receives nothing and the _outbox files stay in the cloud", async () => {
        await writeWs("notes.md", "n");
        await link("_inbox");
        await putCloud("_outbox/a.txt", "new a");
        await putCloud("_outbox/sub/b.txt", "new b");
        const r = ok(await run({ mode: "mailbox" }));
        await assertOutsideUntouched();
        assert.deepEqual(r.inboxFiles, []);
        assert.deepEqual((await cloudNames()).filter((n) => n.startsWith("_outbox/")), ["_outbox/a.txt", "_outbox/sub/b.txt"]);
        assert.ok(skippedPaths(r).some((p) => p.includes("a.txt")), JSON.stringify(r.skipped));
      });

      it("mailbox: a symlinked _inbox/sub only stops the files under it", async () => {
        await fsp.mkdir(wsPath("_inbox"), { recursive: true });
        await link("_inbox/sub");
        await putCloud("_outbox/a.txt", "new a");
        await putCloud("_outbox/sub/b.txt", "new b");
        const r = ok(await run({ mode: "mailbox" }));
        await assertOutsideUntouched();
        assert.deepEqual(r.inboxFiles, ["a.txt"]);
        assert.equal(await readWs("_inbox/a.txt"), "new a");
        assert.equal(await readCloud("_outbox/sub/b.txt"), "new b");
        assert.ok(skippedPaths(r).some((p) => p.includes("sub/b.txt")), JSON.stringify(r.skipped));
      });

      for (const where of ["inbox", "inbox/sub"]) {
        it(`mirror ingest: a symlinked ${where} receives nothing`, async () => {
          await writeWs("work.md", "w");
          await link(where);
          await putCloud("inbox/sub/b.txt", "cloud b");
          await putCloud("inbox/precious.txt", "cloud precious");
          await putCloud("inbox/fine/c.txt", "cloud c");
          const r = ok(await run({ mode: "mirror", ingest: true }));
          await assertOutsideUntouched();
          assert.ok(skippedPaths(r).includes("inbox/sub/b.txt"), JSON.stringify(r.skipped));
          if (where === "inbox/sub") {
            assert.deepEqual(r.inboxFiles, ["inbox/fine/c.txt", "inbox/precious.txt"]);
          } else {
            assert.deepEqual(r.inboxFiles, []);
          }
          assert.equal(await readCloud("inbox/sub/b.txt"), "cloud b");
        });
      }

      it("copySymlinks: a linked folder's files are uploaded, but nothing is written or deleted through the link", async () => {
        await link("link");
        await putCloud("link/precious.txt", "cloud version", new Date(Date.now() + 60_000));
        await putCloud("link/new.txt", "new in the cloud");
        for (let i = 0; i < 2; i++) {
          const r = ok(await run({ copySymlinks: true }));
          await assertOutsideUntouched();
          assert.deepEqual(r.deleted, []);
          assert.ok(skippedPaths(r).includes("link/new.txt"), JSON.stringify(r.skipped));
        }
        assert.equal(await readCloud("link/a.txt"), "outside a", "read through the link: uploaded");
        assert.equal(await readCloud("link/precious.txt"), "cloud version");
        assert.equal(await readCloud("link/new.txt"), "new in the cloud");
      });

      it("copySymlinks: a synced file replaced by a link to a FIFO is left alone, and its cloud copy kept", async () => {
        await writeWs("data.txt", "synced");
        await writeWs("other.txt", "other");
        ok(await run({ copySymlinks: true }));
        execFileSync("mkfifo", [path.join(tmp, "a-fifo")]);
        await fsp.rm(wsPath("data.txt"));
        await fsp.symlink(path.join(tmp, "a-fifo"), wsPath("data.txt"));
        for (let i = 0; i < 2; i++) {
          const r = ok(await run({ copySymlinks: true }));
          assert.deepEqual(r.deleted, [], `run ${i + 1}`);
          assert.ok(skippedPaths(r).includes("data.txt"), JSON.stringify(r.skipped));
          assert.equal(await readCloud("data.txt"), "synced");
        }
        assert.equal((await fsp.lstat(wsPath("data.txt"))).isSymbolicLink(), true, "the link is left as it is");
      });

      it("a folder swapped for a symlink after the listing is caught right before the write", async () => {
        await writeWs("dir/keep.txt", "k");
        ok(await run({}));
        await putCloud("dir/new.txt", "cloud new");
        await putCloud("dir/keep.txt", "cloud keep", new Date(Date.now() + 60_000));
        const inner = cloud;
        // Every read waits for the swap: a second download must not reach its write while the
        // first read's rename is still under way (seen once on a loaded machine: new.txt written
        // into the real folder just before it moved away, a race of the test, not of the sync).
        let swap: Promise<void> | undefined;
        cloud = {
          ...inner,
          async read(key, o) {
            swap ??= (async () => {
              await fsp.rename(wsPath("dir"), wsPath("dir.away"));
              await fsp.symlink(outside, wsPath("dir"));
            })();
            await swap;
            return inner.read(key, o);
          },
        } as HostileCloud;
        const r = ok(await run({}));
        cloud = inner;
        await assertOutsideUntouched();
        assert.deepEqual(r.downloaded, []);
        assert.ok(skippedPaths(r).includes("dir/new.txt"), JSON.stringify(r.skipped));
        const r2 = ok(await run({}));
        await assertOutsideUntouched();
        assert.deepEqual(r2.deleted, []);
        assert.equal(await readCloud("dir/new.txt"), "cloud new");
        assert.equal(await readCloud("dir/keep.txt"), "cloud keep");
      });

      /** Wraps the cloud so that every write first waits for `swap` (run once, by the first write). */
      const swapBeforeWrites = (swap: () => Promise<void>): HostileCloud => {
        const inner = cloud;
        let once: Promise<void> | undefined;
        cloud = {
          ...inner,
          async write(key, source, o) {
            once ??= swap();
            await once;
            return inner.write(key, source, o);
          },
        } as HostileCloud;
        return inner;
      };

      for (const mode of ["bisync", "mirror"] as const) {
        it(`${mode}: a file or folder swapped for a symlink after the listing is never read through it`, async () => {
          await writeWs("a.txt", "a");
          await writeWs("b.txt", "mine b");
          await writeWs("dir/a.txt", "mine dir/a");
          await writeWs("big.bin", "x".repeat(300 * 1024)); // past the local provider's small-copy size
          const inner = swapBeforeWrites(async () => {
            await fsp.rm(wsPath("b.txt"));
            await fsp.symlink(path.join(outside, "precious.txt"), wsPath("b.txt"));
            await fsp.rename(wsPath("dir"), wsPath("dir.away"));
            await fsp.symlink(outside, wsPath("dir"));
            await fsp.rm(wsPath("big.bin"));
            await fsp.symlink(path.join(outside, "sub", "b.txt"), wsPath("big.bin"));
          });
          const r = ok(await run({ mode, concurrency: 1 }));
          cloud = inner;
          await assertOutsideUntouched();
          const names = await cloudNames();
          for (const n of names) {
            const text = await readCloud(n);
            assert.ok(!/precious original|outside a|outside b/.test(text), `${n} holds a file from outside the workspace`);
          }
          assert.ok(names.includes("a.txt"), names.join());
          for (const p of ["b.txt", "dir/a.txt", "big.bin"]) {
            assert.ok(skippedPaths(r).includes(p), `${p}: ${JSON.stringify(r.skipped)}`);
            assert.match(reasonOf(r, p), /symlink/);
          }
          assert.ok(!r.uploaded.includes("b.txt") && !r.uploaded.includes("dir/a.txt") && !r.uploaded.includes("big.bin"));
          // The next run sees the links in the listing and still reads nothing through them.
          const r2 = ok(await run({ mode, maxDelete: 100 }));
          assert.deepEqual(r2.deleted, []);
          await assertOutsideUntouched();
          for (const n of await cloudNames()) assert.ok(!/precious original|outside a|outside b/.test(await readCloud(n)), n);
        });
      }

      it("a file swapped for a FIFO after the listing is skipped, and the run does not hang", async () => {
        await writeWs("a.txt", "a");
        await writeWs("pipe.txt", "was a file");
        const inner = swapBeforeWrites(async () => {
          await fsp.rm(wsPath("pipe.txt"));
          execFileSync("mkfifo", [wsPath("pipe.txt")]);
        });
        const r = ok(await run({ mode: "mirror", concurrency: 1 }));
        cloud = inner;
        assert.deepEqual(r.uploaded, ["a.txt"]);
        assert.match(reasonOf(r, "pipe.txt"), /not a regular file/);
      });

      it("a file that appears in the workspace after the listing is never replaced by a new cloud file", async () => {
        await writeWs("x.txt", "x");
        await putCloud("new.txt", "cloud new");
        const inner = cloud;
        cloud = {
          ...inner,
          async read(key, o) {
            await writeWs("new.txt", "written by the user meanwhile");
            return inner.read(key, o);
          },
        } as HostileCloud;
        const r = ok(await run({}));
        cloud = inner;
        assert.equal(await readWs("new.txt"), "written by the user meanwhile");
        assert.ok(skippedPaths(r).includes("new.txt"), JSON.stringify(r.skipped));
        const r2 = ok(await run({}));
        assert.deepEqual(r2.deleted, []);
        const copies = [await readWs("new.txt"), await readCloud("new.txt")].sort();
        assert.ok(copies.includes("written by the user meanwhile"));
        assert.ok((await readWs("new.txt.conflict").catch(() => "")) !== "" || copies.includes("cloud new"), "both versions kept");
      });

      it("a local delete is refused when its folder became a symlink after the listing", async () => {
        await writeWs("dir/a.txt", "outside a"); // same bytes as outside/a.txt
        await writeWs("x.txt", "x");
        ok(await run({}));
        const st = await fsp.stat(wsPath("dir/a.txt"));
        await fsp.utimes(path.join(outside, "a.txt"), st.atime, st.mtime); // same size and mtime as the synced copy
        outsideBefore = await treeFingerprint(outside);
        await cloud.delete(`${REMOTE}/dir/a.txt`);
        await putCloud("y.txt", "new in cloud");
        const inner = cloud;
        cloud = {
          ...inner,
          async read(key, o) {
            await fsp.rename(wsPath("dir"), wsPath("dir.away"));
            await fsp.symlink(outside, wsPath("dir"));
            return inner.read(key, o);
          },
        } as HostileCloud;
        const r = ok(await run({ maxDelete: 100 }));
        cloud = inner;
        await assertOutsideUntouched();
        assert.deepEqual(r.deleted, []);
        assert.ok(skippedPaths(r).includes("dir/a.txt"), JSON.stringify(r.skipped));
      });
    });

    // ---- temp names ------------------------------------------------------------------------------
    describe("files named like temp files", () => {
      const old = new Date(Date.now() - 3 * 86400_000);
      it("bisync syncs them both ways and never deletes them", async () => {
        await putRaw(".ws-sync-draft.tmp", "cloud draft", old);
        await putRaw(".ws-tmp-report.txt", "cloud report", old);
        await writeWs(".ws-tmp-local.txt", "local tmp-named", old);
        await writeWs("sub/.ws-sync-x.tmp", "local sync-named", old);
        await writeWs(".ws-sync-0123456789ab.tmp", "looks like an old temp", old);
        const names = [".ws-sync-draft.tmp", ".ws-tmp-report.txt", ".ws-tmp-local.txt", "sub/.ws-sync-x.tmp"];
        for (let i = 0; i < 3; i++) {
          const r = ok(await run({}));
          assert.deepEqual(r.deleted, [], `run ${i}`);
        }
        for (const n of names) assert.equal(await readCloud(n), await readWs(n), n);
        assert.equal(await readWs(".ws-sync-draft.tmp"), "cloud draft");
        assert.equal(await readWs(".ws-tmp-local.txt"), "local tmp-named");
        assert.ok(await existsWs(".ws-sync-0123456789ab.tmp"), "never deleted by its name");
      });

      it("mailbox drains _outbox/.ws-sync-draft.tmp into _inbox and keeps it there; pushes .ws-tmp-* files", async () => {
        await putRaw("_outbox/.ws-sync-draft.tmp", "draft", old);
        await putRaw("_outbox/.ws-tmp-report.txt", "report", old);
        await writeWs(".ws-tmp-notes.txt", "notes", old);
        const r = ok(await run({ mode: "mailbox" }));
        assert.deepEqual(r.inboxFiles, [".ws-sync-draft.tmp", ".ws-tmp-report.txt"]);
        assert.deepEqual(r.uploaded, [".ws-tmp-notes.txt"]);
        ok(await run({ mode: "mailbox" }));
        assert.equal(await readWs("_inbox/.ws-sync-draft.tmp"), "draft");
        assert.equal(await readWs("_inbox/.ws-tmp-report.txt"), "report");
        assert.equal(await readCloud(".ws-tmp-notes.txt"), "notes");
      });

      it("mirror pushes them and ingest brings them in", async () => {
        await writeWs(".ws-tmp-report.txt", "report", old);
        await putRaw("inbox/.ws-sync-draft.tmp", "draft", old);
        const r = ok(await run({ mode: "mirror", ingest: true }));
        assert.deepEqual(r.uploaded, [".ws-tmp-report.txt"]);
        assert.deepEqual(r.inboxFiles, ["inbox/.ws-sync-draft.tmp"]);
        ok(await run({ mode: "mirror", ingest: true }));
        assert.equal(await readWs("inbox/.ws-sync-draft.tmp"), "draft");
        assert.equal(await readCloud(".ws-tmp-report.txt"), "report");
      });
    });

    // ---- names the other side cannot hold ----------------------------------------------------
    describe("names the workspace cannot hold", () => {
      it("bisync: a cloud file beside a folder of the same name is skipped; the rest syncs and state is saved", async () => {
        await putRaw("a", "file a");
        await putRaw("a/b", "file a/b");
        await putCloud("c.txt", "c");
        const r = ok(await run({}));
        assert.deepEqual(r.downloaded.sort(), ["a/b", "c.txt"]);
        assert.ok(skippedPaths(r).includes("a"), JSON.stringify(r.skipped));
        assert.equal(await readWs("a/b"), "file a/b");
        const r2 = ok(await run({}));
        assert.deepEqual([r2.uploaded, r2.downloaded, r2.deleted], [[], [], []], "state was saved: nothing to do");
        assert.equal(await readCloud("a"), "file a");
      });

      it("bisync: a conflict copy never takes the name of a cloud file left alone (beside a folder of that name)", async () => {
        await writeWs("a.txt", "base");
        ok(await run({}));
        // Both sides edit a.txt; the cloud also holds a.txt.conflict beside a folder of that name
        // (an object store holds both, a folder tree cannot: left alone).
        await writeWs("a.txt", "local edit", new Date(Date.now() + 30_000));
        await putCloud("a.txt", "cloud edit", new Date(Date.now() + 60_000));
        await putRaw("a.txt.conflict", "left alone, precious");
        await putRaw("a.txt.conflict/inside.txt", "inside");
        const r = ok(await run({}));
        assert.ok(skippedPaths(r).includes("a.txt.conflict"), JSON.stringify(r.skipped));
        assert.equal(await readCloud("a.txt.conflict"), "left alone, precious");
        const names = await cloudNames();
        const copies = names.filter((n) => /^a\.txt\.conflict\d+$/.test(n));
        assert.equal(copies.length, 1, JSON.stringify(names));
        assert.deepEqual([await readCloud("a.txt"), await readCloud(copies[0]!)].sort(), ["cloud edit", "local edit"]);
      });

      it("mailbox: an _outbox key with a 300-byte segment is skipped, the other files are drained", async () => {
        const long = `${"x".repeat(300)}.txt`;
        await putRaw(`_outbox/${long}`, "long");
        await putRaw(`_outbox/dir${"y".repeat(260)}/in.txt`, "long dir");
        await putCloud("_outbox/one.txt", "1");
        await putCloud("_outbox/sub/two.txt", "2");
        const r = ok(await run({ mode: "mailbox" }));
        assert.deepEqual(r.inboxFiles, ["one.txt", "sub/two.txt"]);
        assert.ok(skippedPaths(r).some((p) => p.includes(long)), JSON.stringify(r.skipped));
        assert.equal(await readCloud(`_outbox/${long}`), "long");
      });

      it("bisync: hostile names (.., backslash, control characters, long segments) never block the run", async () => {
        // Names no real backend here lists come from the overlay; the long one is real where it can be.
        putHostile(cloud, `${REMOTE}/../escape.txt`, "e");
        putHostile(cloud, `${REMOTE}/x/../../escape2.txt`, "e");
        putHostile(cloud, `${REMOTE}/back\\slash.txt`, "b");
        putHostile(cloud, `${REMOTE}/ctl\u0001name.txt`, "control");
        await putRaw(`${"z".repeat(256)}`, "z");
        await putCloud("fine.txt", "fine");
        await writeWs("local.txt", "l");
        await writeWs("local\\back.txt", "a backslash in a local name");
        const r = ok(await run({}));
        assert.ok(r.downloaded.includes("fine.txt"));
        assert.ok(r.uploaded.includes("local.txt"));
        for (const p of ["../escape.txt", "x/../../escape2.txt", "back\\slash.txt", "z".repeat(256)]) assert.ok(skippedPaths(r).includes(p), p);
        assert.equal(await readWs("ctl\u0001name.txt"), "control", "a control character is a legal file name here");
        await fsp.access(path.join(tmp, "escape.txt")).then(
          () => assert.fail("escaped"),
          () => undefined,
        );
        ok(await run({}));
        assert.equal(await readCloud("back\\slash.txt"), "b");
        assert.ok(skippedPaths(r).includes("local\\back.txt"), "a local backslash name is reported, not pushed");
        assert.ok(!(await cloudNames()).includes("local\\back.txt"));
        assert.equal(await readWs("local\\back.txt"), "a backslash in a local name");
      });
    });
  });
}
