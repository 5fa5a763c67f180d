/**
 * The sync fuzzer (issue 12): random hostile cloud listings and random workspace symlinks fed to all
 * three modes on the local provider. Each iteration builds, from its own seed:
 * - a sentinel folder outside the workspace (files, a sub-folder), fingerprinted;
 * - a workspace with random files and random symlinks (to the sentinel, into it, to a file in it,
 *   dangling, or relative `../`), often at names the cloud uses too (`link`, `_inbox`, `inbox/sub`…);
 * - a cloud folder (sometimes holding a link to the sentinel) with random files: names that a folder
 *   can hold are real files, the rest (`..`,
 *   `.`, empty parts, backslashes, control characters, 256+ byte parts, `a` beside `a/b`, case twins)
 *   sit in a {@link hostileCloud} overlay;
 * then runs the mode two or three times (deleting a random file on one side between runs) and checks:
 * - every run resolves `ok` (or refuses with SYNC_SAFETY_ABORT): one bad entry never fails a run;
 * - nothing outside the workspace changed (the sentinel's fingerprint, and no new entry beside it);
 * - no file that existed before is gone from both sides (by content: every file has unique bytes),
 *   except those the fuzzer itself deleted.
 * Deterministic per seed: a failure names the seed that replays it.
 */
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import type { SyncMode, SyncSettings } from "../../src/config/types.js";
import { createLocalProvider } from "../../src/providers/local/index.js";
import { runSyncWithProvider } from "../../src/sync/run.js";
import { prng } from "./fault-fuzz.js";
import { hostileCloud, putHostile, type HostileCloud } from "./hostile-cloud.js";
import { treeDiff, treeFingerprint } from "./tree.js";

/** One broken invariant. */
export interface SyncFuzzFailure {
  seed: number;
  mode: SyncMode;
  problem: string;
  scenario: string;
}

/** Options of {@link runSyncFuzz}. */
export interface SyncFuzzOptions {
  workDir: string;
  /** First seed; iteration i uses `seed + i`. */
  seed: number;
  iterations: number;
  /** Stop starting iterations after this long (ms). */
  budgetMs?: number;
  maxFailures?: number;
}

/** What a fuzz run did. */
export interface SyncFuzzReport {
  iterations: number;
  outcomes: Record<string, number>;
  failures: SyncFuzzFailure[];
}

const REMOTE = "share";

function settings(mode: SyncMode): SyncSettings {
  return {
    provider: "local",
    mode,
    ingest: mode === "mirror",
    ingestPath: "inbox",
    notifyOnInbox: false,
    remotePath: REMOTE,
    localPath: "",
    interval: 0,
    timeout: 0,
    onSessionStart: false,
    onSessionEnd: false,
    conflictResolve: "newer",
    exclude: [],
    copySymlinks: false,
    maxDelete: 100,
    concurrency: 3,
  };
}

/** Runs the fuzzer. */
export async function runSyncFuzz(options: SyncFuzzOptions): Promise<SyncFuzzReport> {
  const report: SyncFuzzReport = { iterations: 0, outcomes: {}, failures: [] };
  const started = Date.now();
  for (let i = 0; i < options.iterations; i++) {
    if (options.budgetMs !== undefined && Date.now() - started > options.budgetMs) break;
    if (report.failures.length >= (options.maxFailures ?? 3)) break;
    const seed = options.seed + i;
    const dir = path.join(options.workDir, `it-${seed}`);
    await fsp.mkdir(dir, { recursive: true });
    try {
      await iteration(seed, dir, report);
    } catch (err) {
      report.failures.push({ seed, mode: "bisync", problem: `the fuzzer itself threw: ${err instanceof Error ? err.stack : String(err)}`, scenario: "" });
    }
    report.iterations++;
    await fsp.rm(dir, { recursive: true, force: true });
  }
  return report;
}

async function iteration(seed: number, dir: string, report: SyncFuzzReport): Promise<void> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  const mode = pick(["mailbox", "mirror", "bisync"] as const);
  const ws = path.join(dir, "ws");
  const outside = path.join(dir, "outside");
  const cloudRoot = path.join(dir, "cloud");
  const stateDir = path.join(dir, "state");
  const log: string[] = [`mode ${mode}`];
  let serial = 0;
  /** Unique bytes for each file, so "still exists somewhere" can be checked by content. */
  const content = (): Buffer => Buffer.from(`seed ${seed} file ${serial++} ${"x".repeat(Math.floor(rnd() * 40))}`);

  // The sentinel outside the workspace.
  await fsp.mkdir(path.join(outside, "sub"), { recursive: true });
  for (const n of ["precious.txt", "a", "b.txt", ".ws-sync-draft.tmp", "sub/c.txt", "sub/a"]) await fsp.writeFile(path.join(outside, n), `outside ${n}`);
  const outsideBefore = await treeFingerprint(outside);
  const besideBefore = (await fsp.readdir(dir)).sort();

  // Name material: ordinary names, the mailbox and ingest folders, names the workspace links use,
  // and hostile parts.
  const linkNames = ["link", "_inbox", "inbox", "docs", "a", "_inbox/sub", "inbox/sub", "deep/l"];
  const plain = ["a", "b.txt", "Docs", "docs", "A", "notes.md", "ünï.txt", ".ws-sync-draft.tmp", ".ws-tmp-report.txt", ".hidden", "sub", "link", "l"];
  const hostile = ["..", ".", "", "x\\y", "ctl\u0001x", "tab\tx", "nl\nx", "z".repeat(256 + Math.floor(rnd() * 60)), "é".repeat(130)];
  const segment = (): string => (chance(0.2) ? pick(hostile) : pick(plain));
  const randomPath = (): string => {
    const head = chance(0.5) ? pick(mode === "mailbox" ? ["_outbox", "_inbox", "link", "docs"] : mode === "mirror" ? ["inbox", "inbox/sub", "link", "docs"] : linkNames) : "";
    const parts = Array.from({ length: 1 + Math.floor(rnd() * 3) }, segment);
    return [head, ...parts].filter((p, i) => i > 0 || p !== "").join("/");
  };

  // Workspace: files first, then symlinks at free names.
  const originals = new Map<string, string>(); // sha256 -> where (for the report)
  const wsFiles = new Set<string>();
  const cloudKeys = new Set<string>();
  /** Cloud files a push mode replaces by design: the workspace holds the same path (and is the source of truth). */
  const replaceable = new Set<string>();
  const pushProtected = mode === "mailbox" ? ["_inbox/", "_outbox/"] : ["inbox/"];
  const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
  await fsp.mkdir(ws, { recursive: true });
  for (let i = 0, n = 2 + Math.floor(rnd() * 6); i < n; i++) {
    const rel = randomPath();
    if (rel.split("/").some((s) => s === "" || s === "." || s === ".." || Buffer.byteLength(s) > 255 || s.includes("\\"))) continue;
    const data = content();
    try {
      await fsp.mkdir(path.dirname(path.join(ws, rel)), { recursive: true });
      await fsp.writeFile(path.join(ws, rel), data, { flag: "wx" });
      originals.set(sha(data), `ws:${rel}`);
      wsFiles.add(rel);
      log.push(`ws file ${JSON.stringify(rel)}`);
    } catch {
      /* a file/folder clash in the workspace itself: not created */
    }
  }
  const targets = [outside, path.join(outside, "sub"), path.join(outside, "precious.txt"), path.join(dir, "missing"), path.join("..", "outside")];
  for (let i = 0, n = Math.floor(rnd() * 4); i < n; i++) {
    const rel = pick(linkNames);
    const target = pick(targets);
    // Never create the link itself through another link (that would be the fuzzer writing outside).
    const parents = rel.split("/").slice(0, -1).map((_, j, all) => all.slice(0, j + 1).join("/"));
    const throughLink = await Promise.all(parents.map((p) => fsp.lstat(path.join(ws, p)).then((st) => st.isSymbolicLink(), () => false)));
    if (throughLink.some(Boolean)) continue;
    try {
      await fsp.mkdir(path.dirname(path.join(ws, rel)), { recursive: true });
      await fsp.symlink(target, path.join(ws, rel));
      log.push(`ws link ${rel} -> ${target}`);
    } catch {
      /* taken */
    }
  }

  // Cloud: real files where the folder can hold them, the rest in the overlay.
  const inner = createLocalProvider({ root: cloudRoot }, { logger: { info() {}, warn() {}, error() {}, debug() {} }, stateDir });
  const cloud: HostileCloud = hostileCloud(inner);
  const putCloud = async (rel: string): Promise<void> => {
    if (cloudKeys.has(rel)) return; // one object per key
    cloudKeys.add(rel);
    const data = content();
    if (mode !== "bisync" && wsFiles.has(rel) && !pushProtected.some((p) => rel.startsWith(p))) replaceable.add(sha(data));
    const key = `${REMOTE}/${rel}`;
    const holdable = !rel.includes("\\") && rel.split("/").every((s) => s !== "" && s !== "." && s !== ".." && Buffer.byteLength(s) <= 255);
    let real = false;
    if (holdable) {
      try {
        await inner.write(key, Readable.from([data]), { mtime: new Date(Date.now() - Math.floor(rnd() * 1e9)) });
        real = true;
      } catch {
        /* a file/folder clash in the cloud folder */
      }
    }
    if (!real) putHostile(cloud, key, data, new Date(Date.now() - Math.floor(rnd() * 1e9)));
    originals.set(sha(data), `cloud:${rel}`);
    log.push(`cloud ${real ? "file" : "overlay"} ${JSON.stringify(rel)}`);
  };
  for (let i = 0, n = 2 + Math.floor(rnd() * 8); i < n; i++) {
    const rel = randomPath();
    await putCloud(rel);
    if (chance(0.25)) await putCloud(`${rel}/${pick(plain)}`); // a file and a folder of one name
    if (chance(0.15)) await putCloud(rel.toUpperCase()); // a case twin
  }

  // Sometimes the cloud folder itself (a plain folder here) holds a link to outside.
  if (chance(0.3)) {
    const rel = pick(linkNames);
    const parents = rel.split("/").slice(0, -1).map((_, j, all) => all.slice(0, j + 1).join("/"));
    const base = path.join(cloudRoot, REMOTE);
    const throughLink = await Promise.all(parents.map((p) => fsp.lstat(path.join(base, p)).then((st) => !st.isDirectory(), () => false)));
    if (!throughLink.some(Boolean)) {
      try {
        await fsp.mkdir(path.dirname(path.join(base, rel)), { recursive: true });
        await fsp.symlink(outside, path.join(base, rel));
        log.push(`cloud link ${rel} -> outside`);
      } catch {
        /* taken */
      }
    }
  }

  const deliberatelyDeleted = new Set<string>();
  const runs = 2 + Math.floor(rnd() * 2);
  for (let r = 0; r < runs; r++) {
    const res = await runSyncWithProvider({ settings: settings(mode), provider: cloud, workspaceDir: ws, stateDir });
    const outcome = res.ok ? "ok" : res.code;
    report.outcomes[`${mode}:${outcome}`] = (report.outcomes[`${mode}:${outcome}`] ?? 0) + 1;
    const fail = (problem: string): void => void report.failures.push({ seed, mode, problem: `run ${r + 1}: ${problem}`, scenario: log.join("\n") });
    if (!res.ok && res.code !== "SYNC_SAFETY_ABORT") fail(`failed with ${res.code}: ${res.error}`);
    const diff = treeDiff(outsideBefore, await treeFingerprint(outside));
    if (diff.length > 0) fail(`the folder outside the workspace changed: ${diff.join("; ")}`);
    const beside = (await fsp.readdir(dir)).filter((n) => !["ws", "cloud", "state"].includes(n)).sort();
    const expectedBeside = besideBefore.filter((n) => !["ws", "cloud", "state"].includes(n));
    if (JSON.stringify(beside) !== JSON.stringify(expectedBeside)) fail(`entries appeared beside the workspace: ${beside.join(", ")}`);
    const present = new Set([...(await contentsUnder(ws)), ...(await contentsUnder(cloudRoot)), ...[...cloud.overlay.values()].map((o) => sha(o.data))]);
    for (const [h, where] of originals) if (!present.has(h) && !deliberatelyDeleted.has(h) && !replaceable.has(h)) fail(`${where} is gone from both sides`);
    if (report.failures.some((f) => f.seed === seed)) return;
    // Between runs: delete one random file on one side (its other copies may then go too).
    if (r < runs - 1 && chance(0.6)) {
      const side = chance(0.5) ? ws : path.join(cloudRoot, REMOTE);
      const files = await filesUnder(side);
      if (files.length > 0) {
        const victim = pick(files);
        const data = await fsp.readFile(victim);
        await fsp.rm(victim);
        deliberatelyDeleted.add(sha(data));
        log.push(`deleted ${path.relative(dir, victim)} before run ${r + 2}`);
      }
    }
  }
}

/** Regular files under `root`, not following links. */
async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await visit(full);
      else if (e.isFile()) out.push(full);
    }
  };
  await visit(root);
  return out.sort();
}

async function contentsUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of await filesUnder(root)) out.push(createHash("sha256").update(await fsp.readFile(f)).digest("hex"));
  return out;
}
