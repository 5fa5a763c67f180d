/**
 * Issue 12 (sync part) on the local provider: the safety suite, plus what needs a real folder as
 * the cloud: our own temp leftovers (from a killed process) are cleaned up by a later run while
 * look-alike user files are not, the provider (not the sync listing) says what its temp files are,
 * and a sync of many files emits no MaxListenersExceededWarning.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs, { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, it } from "node:test";
import { silentLogger } from "../src/logger.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { WorkspaceFs } from "../src/util/safe-fs.js";
import type { SyncRunResult, SyncRunSuccess } from "../src/sync/types.js";
import { describeSafetySuite } from "./sync-safety-suite.js";
import { syncSettings } from "./sync-suite.js";

describeSafetySuite("the local provider", async (dir) => ({ provider: createLocalProvider({ root: dir }) }));

const here = path.dirname(fileURLToPath(import.meta.url));

function ok(r: SyncRunResult): SyncRunSuccess {
  if (!r.ok) assert.fail(`sync failed: ${r.code} ${r.error}`);
  return r;
}

/** Runs crash-child with `job`, waits for STUCK, kills it. */
async function crashChild(job: Record<string, unknown>): Promise<void> {
  const child = spawn(process.execPath, [path.join(here, "support", "crash-child.js"), JSON.stringify(job)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child never got stuck: ${out} ${err}`)), 20_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("STUCK")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before getting stuck: ${out} ${err}`));
    });
  });
  child.removeAllListeners("exit");
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

async function namesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string, rel: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await visit(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  await visit(root, "");
  return out.sort();
}

describe("sync safety on the local provider: our own temp files", () => {
  let tmp: string;
  let cloudRoot: string;
  let ws: string;
  let stateDir: string;
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-temps-"));
    cloudRoot = path.join(tmp, "cloud");
    ws = path.join(tmp, "ws");
    stateDir = path.join(tmp, "state");
    await fsp.mkdir(ws, { recursive: true });
  });
  afterEach(() => fsp.rm(tmp, { recursive: true, force: true }));

  const age = async (abs: string, days: number): Promise<void> => {
    const t = new Date(Date.now() - days * 86400_000);
    await fsp.utimes(abs, t, t);
  };

  it("a partial upload left by a killed process is removed by a later successful run; look-alike user files stay", async () => {
    await crashChild({ op: "upload", root: cloudRoot, stateDir, key: "share/big.bin" });
    const left = (await namesUnder(path.join(cloudRoot, "share"))).filter((n) => n.startsWith(".ws-tmp-"));
    assert.equal(left.length, 1, `the killed upload left its temp file: ${left.join(", ")}`);
    await age(path.join(cloudRoot, "share", left[0]!), 3);
    const provider = createLocalProvider({ root: cloudRoot }, { logger: silentLogger, stateDir });
    await provider.write("share/.ws-tmp-report.txt", Readable.from([Buffer.from("user report")]), { mtime: new Date(Date.now() - 3 * 86400_000) });
    await fsp.writeFile(path.join(ws, ".ws-tmp-0123456789ab-x.txt"), "user file in the old temp shape");
    await age(path.join(ws, ".ws-tmp-0123456789ab-x.txt"), 3);

    const r = ok(await runSyncWithProvider({ settings: syncSettings({}), provider, workspaceDir: ws, stateDir }));
    assert.deepEqual(r.downloaded, [".ws-tmp-report.txt"]);
    assert.deepEqual(r.uploaded, [".ws-tmp-0123456789ab-x.txt"]);
    const after = await namesUnder(path.join(cloudRoot, "share"));
    assert.ok(!after.includes(left[0]!), "our stale partial upload was removed");
    assert.deepEqual(after, [".ws-tmp-0123456789ab-x.txt", ".ws-tmp-report.txt"]);
  });

  it("a partial download left by a killed bisync is removed by a later successful run; user files named like it stay", async () => {
    const provider = createLocalProvider({ root: cloudRoot }, { logger: silentLogger, stateDir });
    await provider.write("share/dir/cloud.bin", Readable.from([Buffer.alloc(1000, 1)]));
    await crashChild({ op: "download", root: cloudRoot, stateDir, ws });
    const temps = (await namesUnder(ws)).filter((n) => path.basename(n).startsWith(".ws-sync-"));
    assert.equal(temps.length, 1, `the killed download left its temp file: ${temps.join(", ")}`);
    for (const t of temps) await age(path.join(ws, t), 3);
    await fsp.writeFile(path.join(ws, "dir", ".ws-sync-draft.tmp"), "user draft");
    await age(path.join(ws, "dir", ".ws-sync-draft.tmp"), 3);

    const r = ok(await runSyncWithProvider({ settings: syncSettings({}), provider, workspaceDir: ws, stateDir }));
    assert.deepEqual(r.uploaded, ["dir/.ws-sync-draft.tmp"]);
    assert.deepEqual(r.downloaded, ["dir/cloud.bin"]);
    assert.deepEqual(await namesUnder(ws), ["dir/.ws-sync-draft.tmp", "dir/cloud.bin"], "our stale temp removed, the user's kept");
  });

  it("the local provider says which names are its own temp files; a provider without that hides nothing", async () => {
    const provider = createLocalProvider({ root: cloudRoot }, { logger: silentLogger, stateDir });
    assert.equal(typeof provider.tempFileKind, "function");
    assert.equal(provider.tempFileKind!(".ws-tmp-report.txt"), undefined);
    assert.equal(provider.tempFileKind!("notes.txt"), undefined);
    // A workspace inside the provider's root: a file named like the provider's old temp shape syncs
    // when the provider does not claim it.
    await fsp.writeFile(path.join(ws, ".ws-tmp-aaaaaaaaaaaa-n.txt"), "mine");
    const bare = { ...provider, tempFileKind: undefined };
    const r = ok(await runSyncWithProvider({ settings: syncSettings({}), provider: bare, workspaceDir: ws, stateDir }));
    assert.deepEqual(r.uploaded, [".ws-tmp-aaaaaaaaaaaa-n.txt"]);
  });
});

describe("the local provider's own folder holding symlinks", () => {
  let tmp: string;
  let outside: string;
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-cloudlinks-"));
    outside = path.join(tmp, "outside");
    await fsp.mkdir(outside, { recursive: true });
    await fsp.writeFile(path.join(outside, "a.txt"), "outside a");
    await fsp.mkdir(path.join(tmp, "cloud", "share"), { recursive: true });
    await fsp.symlink(outside, path.join(tmp, "cloud", "share", "docs"));
  });
  afterEach(() => fsp.rm(tmp, { recursive: true, force: true }));

  it("stat looks at the name itself: a symlink (to a file or a folder) is no file", async () => {
    const provider = createLocalProvider({ root: path.join(tmp, "cloud") });
    await fsp.symlink(path.join(outside, "a.txt"), path.join(tmp, "cloud", "share", "a.txt"));
    assert.equal(await provider.stat("share/a.txt"), undefined);
    assert.equal(await provider.stat("share/docs"), undefined);
    assert.equal(await provider.stat("share/docs/a.txt"), undefined, "not through a linked folder either");
    await provider.write("share/real.txt", Readable.from([Buffer.from("real")]));
    assert.equal((await provider.stat("share/real.txt"))?.size, 4);
  });

  it("writes and deletes never go through them", async () => {
    const provider = createLocalProvider({ root: path.join(tmp, "cloud") });
    await assert.rejects(provider.write("share/docs/x.txt", Readable.from([Buffer.from("x")])), (err: Error & { code?: string }) => err.code === "INVALID_PATH" && /symlink/.test(err.message));
    await assert.rejects(provider.write("share/docs", Readable.from([Buffer.from("x")])), (err: Error & { code?: string }) => err.code === "INVALID_PATH");
    await assert.rejects(provider.delete("share/docs/a.txt"), (err: Error & { code?: string }) => err.code === "INVALID_PATH");
    await assert.rejects(provider.ensureDir("share/docs/sub"), (err: Error & { code?: string }) => err.code === "INVALID_PATH");
    assert.deepEqual(await fsp.readdir(outside), ["a.txt"]);
    assert.equal(await fsp.readFile(path.join(outside, "a.txt"), "utf8"), "outside a");
    // Ordinary use is unchanged.
    await provider.write("share/ok/y.txt", Readable.from([Buffer.from("y")]));
    await provider.delete("share/ok/y.txt");
    await provider.delete("share/ok/never-there.txt");
    await provider.delete("share/ok/y.txt/deeper");
  });

  it("a sync upload into a linked cloud folder is skipped with a reason; the rest syncs", async () => {
    const ws = path.join(tmp, "ws");
    await fsp.mkdir(path.join(ws, "docs"), { recursive: true });
    await fsp.writeFile(path.join(ws, "docs", "new.txt"), "local new");
    await fsp.writeFile(path.join(ws, "fine.txt"), "fine");
    const provider = createLocalProvider({ root: path.join(tmp, "cloud") });
    const r = ok(await runSyncWithProvider({ settings: syncSettings({}), provider, workspaceDir: ws, stateDir: path.join(tmp, "state") }));
    assert.deepEqual(r.uploaded, ["fine.txt"]);
    assert.ok(r.skipped?.some((s) => s.path === "docs/new.txt" && /symlink/.test(s.reason)), JSON.stringify(r.skipped));
    assert.deepEqual(await fsp.readdir(outside), ["a.txt"]);
  });
});

describe("a synced file or folder of the local provider's folder replaced by a symlink or special file there", () => {
  // The workspace side's rule, mirrored: a name the cloud holds as something other than a file or
  // folder is left alone on both sides; its absence from the cloud's files is never a deletion.
  let tmp: string;
  let ws: string;
  let cloud: string;
  let outside: string;
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-cloudlinked-"));
    ws = path.join(tmp, "ws");
    cloud = path.join(tmp, "cloud");
    outside = path.join(tmp, "outside");
    await fsp.mkdir(path.join(ws, "d"), { recursive: true });
    await fsp.mkdir(path.join(ws, "e"), { recursive: true });
    await fsp.mkdir(path.join(outside, "d"), { recursive: true });
    for (const [rel, text] of Object.entries({ "notes.txt": "notes", "other.txt": "other", "pipe": "was a file", "d/a.txt": "a", "d/b.txt": "b", "e/1.txt": "1", "e/2.txt": "2", "e/3.txt": "3", "e/4.txt": "4" })) {
      await fsp.writeFile(path.join(ws, rel), text);
    }
    await fsp.writeFile(path.join(outside, "notes.txt"), "outside notes");
    await fsp.writeFile(path.join(outside, "d", "a.txt"), "outside a");
  });
  afterEach(() => fsp.rm(tmp, { recursive: true, force: true }));

  for (const mode of ["bisync", "mirror", "mailbox"] as const) {
    it(`${mode}: nothing of those names is deleted, written or read on either side, and each is reported`, async () => {
      const provider = createLocalProvider({ root: cloud });
      const run = async (): Promise<SyncRunSuccess> => ok(await runSyncWithProvider({ settings: syncSettings({ mode }), provider, workspaceDir: ws, stateDir: path.join(tmp, "state") }));
      ok(await run());
      const share = path.join(cloud, "share");
      await fsp.rm(path.join(share, "notes.txt"));
      await fsp.symlink(path.join(outside, "notes.txt"), path.join(share, "notes.txt"));
      await fsp.rm(path.join(share, "d"), { recursive: true });
      await fsp.symlink(path.join(outside, "d"), path.join(share, "d"));
      await fsp.rm(path.join(share, "pipe"));
      execFileSync("mkfifo", [path.join(share, "pipe")]);
      // A workspace edit meanwhile: it must not go through the link either.
      await fsp.writeFile(path.join(ws, "d", "b.txt"), "b edited");
      for (let i = 0; i < 2; i++) {
        const r = await run();
        assert.deepEqual([r.deleted, r.downloaded, r.uploaded], [[], [], []], `run ${i + 2}`);
        const skipped = new Map((r.skipped ?? []).map((s) => [s.path, s.reason]));
        for (const p of ["notes.txt", "pipe", "d/a.txt", "d/b.txt"]) assert.ok(skipped.has(p), `${p} reported, run ${i + 2}: ${JSON.stringify(r.skipped)}`);
      }
      assert.deepEqual(await namesUnder(ws), ["d/a.txt", "d/b.txt", "e/1.txt", "e/2.txt", "e/3.txt", "e/4.txt", "notes.txt", "other.txt", "pipe"]);
      assert.equal(await fsp.readFile(path.join(ws, "notes.txt"), "utf8"), "notes");
      assert.equal(await fsp.readFile(path.join(ws, "d", "a.txt"), "utf8"), "a");
      assert.equal(await fsp.readFile(path.join(ws, "d", "b.txt"), "utf8"), "b edited");
      assert.deepEqual(await namesUnder(outside), ["d/a.txt", "notes.txt"]);
      assert.equal(await fsp.readFile(path.join(outside, "notes.txt"), "utf8"), "outside notes");
      assert.equal(await fsp.readFile(path.join(outside, "d", "a.txt"), "utf8"), "outside a");
      await provider.close?.();
    });
  }
});

describe("the local provider's folder changing between two small copies into it", () => {
  // Small copies go through the folder as checked, held open (WorkspaceFs.folderSync) until the
  // turn of the event loop ends; the next turn checks the path again.
  let tmp: string;
  let outside: string;
  let cloud: string;
  let src: string;
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-cloudswap2-"));
    outside = path.join(tmp, "outside");
    cloud = path.join(tmp, "cloud");
    src = path.join(tmp, "src.txt");
    await fsp.mkdir(outside, { recursive: true });
    await fsp.writeFile(path.join(outside, "keep.txt"), "outside");
    await fsp.writeFile(src, "small");
  });
  afterEach(() => fsp.rm(tmp, { recursive: true, force: true }));

  const copyIn = (provider: ReturnType<typeof createLocalProvider>, rel: string): Promise<unknown> =>
    provider.write(rel, Readable.from([]), { sourceFile: src, sizeHint: 5 });
  const refused = (err: Error & { code?: string }): boolean => err.code === "INVALID_PATH" && /symlink/.test(err.message);
  /** `outside` as it is: its entries and its time (a file made and removed there changes the time). */
  const outsideNow = async (): Promise<[string[], bigint]> => [await fsp.readdir(outside), (await fsp.stat(outside, { bigint: true })).mtimeNs];

  it("swapped for a symlink out of the tree: refused, and nothing is made outside, not even for a moment", async () => {
    const provider = createLocalProvider({ root: cloud });
    await copyIn(provider, "share/d/a.txt");
    await fsp.rename(path.join(cloud, "share", "d"), path.join(cloud, "share", "d-moved"));
    await fsp.symlink(outside, path.join(cloud, "share", "d"));
    const before = await outsideNow();
    await assert.rejects(copyIn(provider, "share/d/b.txt"), refused);
    assert.deepEqual(await outsideNow(), before);
    assert.deepEqual(await fsp.readdir(path.join(cloud, "share", "d-moved")), ["a.txt"]);
  });

  it("swapped for a symlink to another folder of the tree: refused, and that folder is unchanged", async () => {
    const provider = createLocalProvider({ root: cloud });
    await copyIn(provider, "share/d/a.txt");
    await copyIn(provider, "share/e/a.txt");
    await fsp.rm(path.join(cloud, "share", "d"), { recursive: true });
    await fsp.symlink(path.join(cloud, "share", "e"), path.join(cloud, "share", "d"));
    await assert.rejects(copyIn(provider, "share/d/b.txt"), refused);
    assert.deepEqual(await fsp.readdir(path.join(cloud, "share", "e")), ["a.txt"]);
  });

  it("a folder on its way swapped for a symlink: refused", async () => {
    const provider = createLocalProvider({ root: cloud });
    await copyIn(provider, "share/d/sub/a.txt");
    await fsp.rename(path.join(cloud, "share", "d"), path.join(cloud, "share", "d-moved"));
    await fsp.mkdir(path.join(outside, "sub"));
    await fsp.symlink(outside, path.join(cloud, "share", "d"));
    await assert.rejects(copyIn(provider, "share/d/sub/b.txt"), refused);
    assert.deepEqual(await fsp.readdir(path.join(outside, "sub")), []);
  });

  it("moved out of the tree while held open, a symlink left at its name: the next file is refused, nothing is written outside", async () => {
    const g = await WorkspaceFs.open(cloud, "the local provider folder");
    await fsp.mkdir(cloud);
    const before = await outsideNow();
    // From here to the checks, one turn of the event loop (no await): the folder stays held.
    const first = g.createFileSync("d", "a.txt");
    fs.closeSync(first.fd);
    fs.renameSync(path.join(cloud, "d"), path.join(outside, "d"));
    fs.symlinkSync(path.join(outside, "d"), path.join(cloud, "d"));
    assert.throws(() => g.createFileSync("d", "b.txt"), refused);
    assert.deepEqual(fs.readdirSync(path.join(outside, "d")), ["a.txt"]);
    // Moved within the tree: refused too (the folder is no longer at the name it was checked as).
    fs.mkdirSync(path.join(cloud, "e"));
    fs.closeSync(g.createFileSync("e", "a.txt").fd);
    fs.renameSync(path.join(cloud, "e"), path.join(cloud, "e-moved"));
    fs.symlinkSync(outside, path.join(cloud, "e"));
    assert.throws(() => g.createFileSync("e", "b.txt"), refused);
    assert.deepEqual(fs.readdirSync(path.join(cloud, "e-moved")), ["a.txt"]);
    const [names] = await outsideNow();
    assert.deepEqual(names, [...before[0], "d"].sort());
  });

  it("moved out of the tree between a temp file's creation and its rename: the rename is refused, nothing gets a name where the folder went", async () => {
    const g = await WorkspaceFs.open(cloud, "the local provider folder");
    await fsp.mkdir(cloud);
    const before = await outsideNow();
    // One turn of the event loop (no await): the folder stays held between the two calls.
    const made = g.createFileSync("d", "tmp.txt");
    fs.closeSync(made.fd);
    fs.renameSync(path.join(cloud, "d"), path.join(outside, "d"));
    assert.throws(() => g.renameInSync(made.dir, "tmp.txt", "a.txt", "d/a.txt"), (err: Error & { code?: string }) => err.code === "INVALID_PATH" && /was moved/.test(err.message));
    assert.deepEqual(fs.readdirSync(path.join(outside, "d")), ["tmp.txt"], "the temp file only (its writer removes it)");
    const [names] = await outsideNow();
    assert.deepEqual(names, [...before[0], "d"].sort());
  });

  it("a claim (overwrite: false) of a small file: moved out of the tree while it is written, it gets no name there; a taken name is refused and kept", async () => {
    const provider = createLocalProvider({ root: cloud });
    await copyIn(provider, "d/a.txt");
    const claim = (rel: string, onProgress?: () => void): Promise<unknown> =>
      provider.write(rel, Readable.from([]), { sourceFile: src, sizeHint: 5, overwrite: false, ...(onProgress ? { onProgress } : {}) });
    await assert.rejects(claim("d/a.txt"), (err: Error & { code?: string }) => err.code === "ALREADY_EXISTS");
    await claim("d/b.txt");
    assert.equal(await fsp.readFile(path.join(cloud, "d", "b.txt"), "utf8"), "small");
    const before = await outsideNow();
    // The folder goes while the bytes are written (the progress is reported as they are).
    let moved = false;
    const move = (): void => {
      if (moved) return;
      moved = true;
      fs.renameSync(path.join(cloud, "d"), path.join(outside, "d"));
    };
    await assert.rejects(claim("d/c.txt", move), (err: Error & { code?: string }) => err.code === "INVALID_PATH");
    assert.ok(moved, "the progress was reported before the name was given");
    assert.deepEqual(fs.readdirSync(path.join(outside, "d")).sort(), ["a.txt", "b.txt"], "no c.txt, no temp file");
    const [names] = await outsideNow();
    assert.deepEqual(names, [...before[0], "d"].sort());
    await provider.close?.();
  });

  it("two folders are held at once (a plan's two halves): alternating keeps both, each is checked at each use, and a third lets the one used longest ago go", async () => {
    const g = await WorkspaceFs.open(cloud, "the local provider folder");
    await fsp.mkdir(cloud);
    /** Folders under the cloud folder this process holds open. */
    const heldNow = (): string[] =>
      fs.readdirSync("/proc/self/fd").flatMap((fd) => {
        try {
          const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
          return target.startsWith(`${cloud}/`) ? [path.relative(cloud, target)] : [];
        } catch {
          return [];
        }
      });
    const make = (dir: string, name: string): string => {
      const made = g.createFileSync(dir, name);
      fs.closeSync(made.fd);
      return made.dir;
    };
    // One turn of the event loop from here (no await): what is held stays held.
    const a = make("a", "1.txt");
    const b = make("b", "1.txt");
    assert.equal(make("a", "2.txt"), a);
    assert.equal(make("b", "2.txt"), b);
    assert.deepEqual(heldNow().sort(), ["a", "b"], "both held, neither reopened");
    // A third folder: the one used longest ago (a) is let go; b is still held.
    make("c", "1.txt");
    assert.deepEqual(heldNow().sort(), ["b", "c"]);
    g.renameInSync(b, "2.txt", "2b.txt", "b/2b.txt");
    assert.throws(() => g.renameInSync(a, "2.txt", "2a.txt", "a/2a.txt"), /not a folder held open/);
    // b moved out of the tree while c was used: its next use is refused, nothing lands outside.
    fs.renameSync(path.join(cloud, "b"), path.join(outside, "b"));
    fs.symlinkSync(path.join(outside, "b"), path.join(cloud, "b"));
    assert.throws(() => g.createFileSync("b", "3.txt"), refused);
    assert.deepEqual(fs.readdirSync(path.join(outside, "b")).sort(), ["1.txt", "2b.txt"]);
    g.releaseFolder();
    assert.deepEqual(heldNow(), []);
  });

  it("a symlinked root (its own path may be a link): copies land at the top and below", async () => {
    const real = path.join(tmp, "real-cloud");
    await fsp.mkdir(real);
    await fsp.symlink(real, cloud);
    const provider = createLocalProvider({ root: cloud });
    await copyIn(provider, "top.txt");
    await copyIn(provider, "share/d/a.txt");
    await copyIn(provider, "top2.txt");
    assert.deepEqual((await fsp.readdir(real)).sort(), ["share", "top.txt", "top2.txt"]);
    assert.equal(await fsp.readFile(path.join(real, "share", "d", "a.txt"), "utf8"), "small");
  });

  it("removed since: made again, and the copy lands", async () => {
    const provider = createLocalProvider({ root: cloud });
    await copyIn(provider, "share/d/sub/a.txt");
    await fsp.rm(path.join(cloud, "share", "d"), { recursive: true });
    await copyIn(provider, "share/d/sub/b.txt");
    assert.equal(await fsp.readFile(path.join(cloud, "share", "d", "sub", "b.txt"), "utf8"), "small");
    await fsp.rm(path.join(cloud, "share", "d"), { recursive: true });
    await fsp.writeFile(path.join(cloud, "share", "d"), "a file now");
    await assert.rejects(copyIn(provider, "share/d/sub/c.txt"), (err: Error & { code?: string }) => err.code === "INVALID_PATH");
    assert.equal(await fsp.readFile(path.join(cloud, "share", "d"), "utf8"), "a file now");
  });

  it("a folder removed since, then a new folder under its name: every level is made again, for small and large copies", async () => {
    const provider = createLocalProvider({ root: cloud });
    const big = path.join(tmp, "big.bin");
    await fsp.writeFile(big, Buffer.alloc(3 * 1024 * 1024, 7));
    await copyIn(provider, "share/notes/a.txt");
    await provider.write("share/docs/a.bin", Readable.from([]), { sourceFile: big, sizeHint: 3 * 1024 * 1024 });
    await fsp.rm(path.join(cloud, "share", "notes"), { recursive: true });
    await fsp.rm(path.join(cloud, "share", "docs"), { recursive: true });
    // (The provider remembers share/notes and share/docs as made: a level below them is new.)
    await copyIn(provider, "share/notes/sub/b.txt");
    await provider.write("share/docs/sub/b.bin", Readable.from([]), { sourceFile: big, sizeHint: 3 * 1024 * 1024 });
    assert.equal(await fsp.readFile(path.join(cloud, "share", "notes", "sub", "b.txt"), "utf8"), "small");
    assert.equal((await fsp.stat(path.join(cloud, "share", "docs", "sub", "b.bin"))).size, 3 * 1024 * 1024);
  });

  it("a folder remembered as made, swapped for a symlink since: no folder is made through it, not even an empty one", async () => {
    const g = await WorkspaceFs.open(cloud, "the local provider folder");
    await fsp.mkdir(cloud);
    await g.ensureDir("a/b");
    g.ensureDirSync("c/d");
    const before = await outsideNow();
    for (const d of ["a", "c"]) {
      await fsp.rename(path.join(cloud, d), path.join(cloud, `${d}-moved`));
      await fsp.symlink(outside, path.join(cloud, d));
    }
    await assert.rejects(g.ensureDir("a/x"), refused);
    assert.throws(() => g.ensureDirSync("c/y"), refused);
    assert.deepEqual(await outsideNow(), before, "nothing made outside");
  });

  it("a folder on the way swapped for a symlink between the look at a new level and its mkdir: nothing is made outside", async () => {
    const g = await WorkspaceFs.open(cloud, "the local provider folder");
    await fsp.mkdir(path.join(cloud, "a"), { recursive: true });
    await fsp.mkdir(path.join(cloud, "c"), { recursive: true });
    const before = await outsideNow();
    // The look at the new level (its lstat, by path) comes first; its folder is swapped right after.
    const swapAfterLook = (at: string, dir: string) => {
      let done = false;
      return (p: unknown): void => {
        if (!done && String(p) === path.join(cloud, at)) {
          done = true;
          fs.renameSync(path.join(cloud, dir), path.join(cloud, `${dir}-moved`));
          fs.symlinkSync(outside, path.join(cloud, dir));
        }
      };
    };
    const asyncSwap = swapAfterLook("a/b", "a");
    const lstat = fsp.lstat;
    fsp.lstat = (async (...args: Parameters<typeof lstat>) => {
      try {
        return await lstat(...args);
      } finally {
        asyncSwap(args[0]);
      }
    }) as typeof lstat;
    const syncSwap = swapAfterLook("c/d", "c");
    const lstatSync = fs.lstatSync;
    const writable = fs as { lstatSync: typeof lstatSync };
    writable.lstatSync = ((...args: Parameters<typeof lstatSync>) => {
      try {
        return lstatSync(...args);
      } finally {
        syncSwap(args[0]);
      }
    }) as typeof lstatSync;
    try {
      await assert.rejects(g.ensureDir("a/b"));
      assert.throws(() => g.ensureDirSync("c/d"));
    } finally {
      fsp.lstat = lstat;
      writable.lstatSync = lstatSync;
    }
    assert.deepEqual(await outsideNow(), before, "no folder made outside");
  });

  for (const step of ["a folder made", "a file created"] as const) {
    it(`${step} in a/b, with a swapped for a link at each open and back for each check: nothing is made outside`, async () => {
      fs.mkdirSync(path.join(cloud, "a", "b"), { recursive: true });
      fs.mkdirSync(path.join(outside, "x", "b"), { recursive: true });
      const g = await WorkspaceFs.open(cloud, "the local provider folder");
      const toLink = (): void => {
        if (fs.lstatSync(path.join(cloud, "a")).isSymbolicLink()) return;
        fs.renameSync(path.join(cloud, "a"), path.join(cloud, "a-real"));
        fs.symlinkSync(path.join(outside, "x"), path.join(cloud, "a"));
      };
      const toReal = (): void => {
        if (!fs.lstatSync(path.join(cloud, "a")).isSymbolicLink()) return;
        fs.unlinkSync(path.join(cloud, "a"));
        fs.renameSync(path.join(cloud, "a-real"), path.join(cloud, "a"));
      };
      g.ensureDirSync("a/b"); // (looked at once, as a run's earlier file would)
      const writable = fs as unknown as { openSync: typeof fs.openSync; mkdirSync: typeof fs.mkdirSync; realpathSync: { native: typeof fs.realpathSync.native } };
      const { openSync, mkdirSync } = fs;
      const native = fs.realpathSync.native;
      let swaps = 0;
      writable.openSync = ((...args: Parameters<typeof openSync>) => {
        swaps++;
        toLink();
        return openSync(...args);
      }) as typeof openSync;
      writable.realpathSync.native = ((...args: Parameters<typeof native>) => {
        toReal();
        return native(...args);
      }) as typeof native;
      writable.mkdirSync = ((...args: Parameters<typeof mkdirSync>) => {
        toLink();
        return mkdirSync(...args);
      }) as typeof mkdirSync;
      try {
        if (step === "a folder made") g.ensureDirSync("a/b/c");
        else fs.closeSync(g.createFileSync("a/b", "f.txt").fd);
      } catch {
        /* refused: what matters is below */
      } finally {
        writable.openSync = openSync;
        writable.mkdirSync = mkdirSync;
        writable.realpathSync.native = native;
        toReal();
        g.releaseFolder();
      }
      assert.ok(swaps > 0, "the swaps were made");
      assert.deepEqual(fs.readdirSync(path.join(outside, "x", "b")), [], "nothing made outside");
    });
  }

  it("removed while held open: made again, and the copy lands", async () => {
    const g = await WorkspaceFs.open(cloud, "the local provider folder");
    await fsp.mkdir(cloud);
    fs.closeSync(g.createFileSync("d", "a.txt").fd);
    fs.rmSync(path.join(cloud, "d"), { recursive: true });
    const again = g.createFileSync("d", "b.txt");
    fs.closeSync(again.fd);
    assert.deepEqual(await fsp.readdir(path.join(cloud, "d")), ["b.txt"]);
  });
});

describe("the local provider's folder changing between the listing and the read", () => {
  let tmp: string;
  let outside: string;
  let cloudDir: string;
  let ws: string;
  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-cloudswap-"));
    outside = path.join(tmp, "outside");
    cloudDir = path.join(tmp, "cloud");
    ws = path.join(tmp, "ws");
    await fsp.mkdir(path.join(outside, "sub"), { recursive: true });
    await fsp.writeFile(path.join(outside, "secret.txt"), "outside secret");
    await fsp.writeFile(path.join(outside, "sub", "new.txt"), "outside new");
    await fsp.mkdir(path.join(cloudDir, "share", "sub"), { recursive: true });
    await fsp.mkdir(ws, { recursive: true });
    await fsp.writeFile(path.join(cloudDir, "share", "new.txt"), "cloud new");
    await fsp.writeFile(path.join(cloudDir, "share", "sub", "new.txt"), "cloud sub new");
    await fsp.writeFile(path.join(cloudDir, "share", "fifo.txt"), "cloud fifo");
    await fsp.writeFile(path.join(cloudDir, "share", "ok.txt"), "cloud ok");
  });
  afterEach(() => fsp.rm(tmp, { recursive: true, force: true }));

  it("bisync: a cloud file or folder swapped for a symlink or a FIFO is never read through it, and the run does not hang", async () => {
    const inner = createLocalProvider({ root: cloudDir });
    const share = path.join(cloudDir, "share");
    let once: Promise<void> | undefined;
    const provider = {
      ...inner,
      async read(key: string, o?: Parameters<typeof inner.read>[1]) {
        once ??= (async () => {
          await fsp.rm(path.join(share, "new.txt"));
          await fsp.symlink(path.join(outside, "secret.txt"), path.join(share, "new.txt"));
          await fsp.rename(path.join(share, "sub"), path.join(share, "sub.away"));
          await fsp.symlink(path.join(outside, "sub"), path.join(share, "sub"));
          await fsp.rm(path.join(share, "fifo.txt"));
          execFileSync("mkfifo", [path.join(share, "fifo.txt")]);
        })();
        await once;
        return inner.read(key, o);
      },
    } as typeof inner;
    const r = ok(await runSyncWithProvider({ settings: syncSettings({ concurrency: 1 }), provider, workspaceDir: ws, stateDir: path.join(tmp, "state"), logger: silentLogger }));
    assert.deepEqual(r.downloaded, ["ok.txt"]);
    assert.deepEqual((await namesUnder(ws)).filter((n) => !n.startsWith(".")), ["ok.txt"]);
    for (const p of ["new.txt", "sub/new.txt"]) assert.match(r.skipped?.find((s) => s.path === p)?.reason ?? "", /symlink/, `${p}: ${JSON.stringify(r.skipped)}`);
    assert.match(r.skipped?.find((s) => s.path === "fifo.txt")?.reason ?? "", /not a regular file/, JSON.stringify(r.skipped));
  });
});

describe("the local provider's copies of local files", () => {
  it("keep the source's permission bits, small and large, as copyFile did; a conflict copy too", async () => {
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-modes-"));
    try {
      const provider = createLocalProvider({ root: path.join(tmp, "cloud") });
      for (const [name, size, mode] of [["small.sh", 10, 0o750], ["big.bin", 300 * 1024, 0o600]] as const) {
        const file = path.join(tmp, name);
        await fsp.writeFile(file, Buffer.alloc(size, 1));
        await fsp.chmod(file, mode);
        await provider.write(`share/${name}`, Readable.from([]), { sourceFile: file, sizeHint: size });
        const st = await fsp.stat(path.join(tmp, "cloud", "share", name));
        assert.equal(st.mode & 0o7777, mode, name);
        assert.equal(st.size, size, name);
      }
      // Small copies are created with the source's mode: where the umask takes bits from it,
      // they are given back.
      const umask = process.umask(0o077);
      try {
        for (const [name, mode] of [["open.sh", 0o777], ["shared.txt", 0o664], ["own.txt", 0o600]] as const) {
          const file = path.join(tmp, name);
          await fsp.writeFile(file, name);
          await fsp.chmod(file, mode);
          await provider.write(`share/${name}`, Readable.from([]), { sourceFile: file, sizeHint: name.length });
          assert.equal((await fsp.stat(path.join(tmp, "cloud", "share", name))).mode & 0o7777, mode, name);
        }
      } finally {
        process.umask(umask);
      }
      const { WorkspaceFs } = await import("../src/util/safe-fs.js");
      const ws = await WorkspaceFs.open(tmp);
      await ws.copyFileExcl("small.sh", "small.sh.conflict");
      assert.equal((await fsp.stat(path.join(tmp, "small.sh.conflict"))).mode & 0o7777, 0o750);
      await assert.rejects(ws.copyFileExcl("big.bin", "small.sh.conflict"), (err: NodeJS.ErrnoException) => err.code === "EEXIST");
      assert.equal((await fsp.stat(path.join(tmp, "small.sh.conflict"))).size, 10, "a file already there is left alone");
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });
});

describe("sync of many files", () => {
  it("emits no MaxListenersExceededWarning", async () => {
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-listeners-"));
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on("warning", onWarning);
    try {
      const ws = path.join(tmp, "ws");
      const provider = createLocalProvider({ root: path.join(tmp, "cloud") });
      for (let i = 0; i < 40; i++) {
        await fsp.mkdir(path.join(ws, "up"), { recursive: true });
        await fsp.writeFile(path.join(ws, "up", `f${i}.txt`), `local ${i}`);
        await provider.write(`share/down/g${i}.txt`, Readable.from([Buffer.from(`cloud ${i}`)]));
      }
      for (const mode of ["bisync", "mailbox", "mirror"] as const) {
        const r = ok(await runSyncWithProvider({ settings: syncSettings({ mode, concurrency: 16, timeout: 600 }), provider, workspaceDir: ws, stateDir: path.join(tmp, `state-${mode}`) }));
        if (mode === "bisync") assert.equal(r.downloaded.length + r.uploaded.length, 80);
      }
      await new Promise((resolve) => setImmediate(resolve));
      const bad = warnings.filter((w) => w.name === "MaxListenersExceededWarning");
      assert.deepEqual(bad.map((w) => w.message), []);
    } finally {
      process.off("warning", onWarning);
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });
});
