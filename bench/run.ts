/**
 * `npm run bench`: backup/restore throughput and peak RSS side by side with the command-line
 * pipeline (`tar -cz | openssl enc`, and pigz where installed) on the same data in the same run,
 * S3 (Ceph RGW on loopback, when installed) and no-change sync of many files. Prints a Markdown
 * table for the README.
 *
 * Options: --small N (small files, default 20000) --large N (random files, default 4)
 *          --large-mib N (size of each, default 150) --sync-files N (default 40000)
 *          --only backup|restore|s3|sync|scale  --runs N (repeat each timed op, best kept; default 1)
 *          (`restore`: one backup, then the restore rows only, ours and the CLI's taking turns)
 *          --scale-gib N (scale run: random data, default 10) --scale-files N (default 100000)
 *          --only syncscale: local mirror of --sync-files files (default 40000, 200 folders) side by
 *          side with `rclone sync` (first run, no-change run, peak RSS; whole processes, taking turns,
 *          best of --runs; and the no-change run pinned to one core, both tools), then
 *          --sync-scale-files (default 100000) in every mode (first run and
 *          no-change, peak RSS), then mirror's peak RSS at --sync-files, --sync-scale-files and
 *          --sync-curve-files (default 200000; 0 skips) files (from the runs above where they were
 *          mirror runs at that count), and of a run after one cloud file changed, at each count,
 *          and what each further file costs
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { promises as fsp, readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBigData, ensureDataSet, ensureManyFiles } from "./data.js";
import { RGW_REMOTE, rcloneEnv } from "../test/support/rclone.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const childJs = path.join(here, "child.js");

function opt(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const only = (() => {
  const i = process.argv.indexOf("--only");
  return i > 0 ? process.argv[i + 1] : undefined;
})();
const runs = opt("runs", 1);
const PASS = "bench passphrase";

interface Measured {
  ms: number;
  rssMiB: number;
  /** User and system CPU seconds of the whole process tree (GNU time's %U and %S). */
  userS: number;
  sysS: number;
  extra: Record<string, unknown>;
}

function has(bin: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Runs a command under GNU time; returns wall time, peak RSS and the child's JSON line if any. */
async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Measured> {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-bench-m-"));
  const timeFile = path.join(tmp, "time");
  const resultFile = path.join(tmp, "result");
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const p = spawn("/usr/bin/time", ["-f", "%M %U %S", "-o", timeFile, cmd, ...args], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, BENCH_PASS: PASS, BENCH_RESULT: resultFile, ...env },
    });
    p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}`))));
  });
  const wall = performance.now() - t0;
  const [rssKiB, userS, sysS] = ((await fsp.readFile(timeFile, "utf8")).trim().split("\n").pop() ?? "").split(" ").map(Number) as [number, number, number];
  const text = await fsp.readFile(resultFile, "utf8").catch(() => "");
  await fsp.rm(tmp, { recursive: true, force: true });
  const extra = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  return { ms: typeof extra.ms === "number" ? extra.ms : Math.round(wall), rssMiB: rssKiB / 1024, userS, sysS, extra };
}

async function best(fn: () => Promise<Measured>, before?: () => Promise<void>, n = runs): Promise<Measured> {
  let out: Measured | undefined;
  for (let i = 0; i < n; i++) {
    await before?.();
    const m = await fn();
    if (!out || m.ms < out.ms) out = m;
  }
  return out as Measured;
}

const rows: string[] = [];
const row = (name: string, bytes: number, m: Measured, note = "") => {
  const mbs = bytes / 1e6 / (m.ms / 1000);
  rows.push(`| ${name} | ${(m.ms / 1000).toFixed(1)} s | ${mbs.toFixed(1)} MB/s | ${m.rssMiB.toFixed(0)} MiB | ${note} |`);
  console.log(rows[rows.length - 1]);
};

async function main(): Promise<void> {
  const benchDir = path.join(os.tmpdir(), "workspace-sync-bench");
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-bench-run-"));
  const cleanup = async () => fsp.rm(work, { recursive: true, force: true });
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; scratch ${work}`);

  try {
    if (!only || only === "backup" || only === "restore" || only === "s3") {
      const spec = { smallFiles: opt("small", 20000), smallAvgBytes: 20000, largeFiles: opt("large", 4), largeBytes: opt("large-mib", 150) * 1024 * 1024 };
      console.log(`data set: ${spec.smallFiles} small text files + ${spec.largeFiles} × ${spec.largeBytes / 2 ** 20} MiB random (generating on first run)...`);
      const data = await ensureDataSet(path.join(benchDir, "data"), spec);
      const parent = path.dirname(data.workspace);
      const stateDir = path.join(work, "state");
      await fsp.mkdir(stateDir, { recursive: true });
      console.log(`data set: ${(data.bytes / 1e6).toFixed(0)} MB in ${data.files} files\n`);
      rows.push("| operation | time | throughput (plain MB/s) | peak RSS | notes |", "|---|---|---|---|---|");

      if (!only || only === "backup" || only === "restore") {
        const dest = path.join(work, "dest");
        const bk = await best(
          () => measure(process.execPath, [childJs, "backup", data.workspace, stateDir, dest]),
          () => fsp.rm(dest, { recursive: true, force: true }),
          only === "restore" ? 1 : runs,
        );
        row("workspace-sync backup (local provider)", data.bytes, bk, `stored ${((bk.extra.stored as number) / 1e6).toFixed(0)} MB`);
        if (only !== "restore") await cliBackupRows(data, parent, bk, work);
        const snapshot = (await fsp.readdir(dest)).find((n) => n.endsWith(".tar.gz.enc")) as string;
        await restoreRows(data, stateDir, dest, snapshot, work);
      }

      if (!only || only === "s3") await s3Bench(data, parent, stateDir);
    }

    if (!only || only === "sync") await syncBench(benchDir, work);
    // Not part of the default run: it writes 10 GiB (and as much again for the snapshot and restore).
    if (only === "scale") await scaleBench(benchDir, work);
    if (only === "syncscale") await syncScaleBench(benchDir, work);
  } finally {
    await stopRgw?.();
    await cleanup();
  }
  console.log("\nMarkdown for the README:\n");
  console.log(rows.join("\n"));
}

/** The CLI backup rows: `tar -cz | openssl enc`, and with pigz where installed. */
async function cliBackupRows(data: { workspace: string; bytes: number }, parent: string, bk: Measured, work: string): Promise<void> {
  const cliOut = path.join(work, "cli.tar.gz.enc");
  const cli = await best(() =>
    measure("sh", ["-c", `tar -cz -C "${parent}" workspace | openssl enc -aes-256-cbc -salt -pbkdf2 -iter 100000 -pass env:BENCH_PASS > "${cliOut}"`]),
  );
  row("tar -cz \\| openssl enc", data.bytes, cli, `takes ${(bk.ms ? cli.ms / bk.ms : 0).toFixed(2)}x our backup time`);
  if (has("pigz")) {
    const pz = await best(() =>
      measure("sh", ["-c", `tar -c -C "${parent}" workspace | pigz | openssl enc -aes-256-cbc -salt -pbkdf2 -iter 100000 -pass env:BENCH_PASS > "${cliOut}.pigz"`]),
    );
    row("tar -c \\| pigz \\| openssl enc", data.bytes, pz, `takes ${(bk.ms ? pz.ms / bk.ms : 0).toFixed(2)}x our backup time`);
  }
  await fsp.rm(cliOut, { force: true });
  await fsp.rm(`${cliOut}.pigz`, { force: true });
}

/**
 * Our restore and `openssl enc -d | tar -xz` of the same snapshot (ours: its members carry the
 * size index, which the CLI skips), taking turns so that both see the same machine load; best of
 * `--runs` each.
 */
async function restoreRows(data: { bytes: number }, stateDir: string, dest: string, snapshot: string, work: string): Promise<void> {
  let rs: Measured | undefined;
  let crs: Measured | undefined;
  const keep = (a: Measured | undefined, m: Measured): Measured => (a === undefined || m.ms < a.ms ? m : a);
  // Every run restores into a folder of its own, and all of them are removed only at the end: on
  // this VM's ext4 (no journal), creating a file scans past every inode freed in the last seconds
  // to minutes (ext4's recently_deleted check), so a restore run right after removing the previous
  // run's 20 000 files paid ~100 µs per file more, for ours and the CLI's alike, growing through a
  // series (a third of all CPU time in a profiled run; see README "Where a restore's time goes").
  // The scratch folder holds every run's output until then: ~2 GB a run on the bench set.
  const targets: string[] = [];
  for (let i = 0; i < runs; i++) {
    const target = path.join(work, `restored-${i}`);
    const cliTarget = path.join(work, `cli-restored-${i}`);
    targets.push(target, cliTarget);
    settleDisk();
    // The bin's command, whole process (start-up included, as for the CLI), with the bin's heap policy.
    const ours = await measure(process.execPath, [childJs, "restore-bin", stateDir, dest, target]);
    rs = keep(rs, ours);
    await fsp.mkdir(cliTarget);
    settleDisk();
    const cli = await measure("sh", ["-c", `openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass env:BENCH_PASS -in "${path.join(dest, snapshot)}" | tar -xz -C "${cliTarget}"`]);
    crs = keep(crs, cli);
    // Every pair, with the load: on a shared machine the best of each can come from different moments.
    console.log(
      `restore run ${i + 1}: ours ${(ours.ms / 1000).toFixed(1)} s (${ours.rssMiB.toFixed(0)} MiB, CPU user ${ours.userS.toFixed(1)} + sys ${ours.sysS.toFixed(1)} s), ` +
        `CLI ${(cli.ms / 1000).toFixed(1)} s (CPU user ${cli.userS.toFixed(1)} + sys ${cli.sysS.toFixed(1)} s), ratio ${(cli.ms / ours.ms).toFixed(2)}, load ${os.loadavg()[0]?.toFixed(1)}`,
    );
  }
  if (!rs || !crs) return;
  row("workspace-sync restore", data.bytes, rs);
  row("openssl enc -d \\| tar -xz (same snapshot)", data.bytes, crs, `${(rs.ms ? crs.ms / rs.ms : 0).toFixed(2)}x our restore time`);
  for (const t of targets) await fsp.rm(t, { recursive: true, force: true });
}

/**
 * Flush dirty pages before a timed restore, so that neither side pays for writing back the
 * previous run's gigabyte (the page cache absorbs ~1 GiB of writes; whoever runs second used to
 * inherit the first one's writeback, and run times drifted upwards through a series).
 */
function settleDisk(): void {
  spawnSync("sync");
}

/**
 * Reads every file under `dir` into the page cache, before a first sync of it (either tool's).
 * rclone's local backend drops the cached pages of each file it has copied
 * (`fadvise(POSIX_FADV_DONTNEED)` once read, by `strace`), so the run after one of rclone's read its
 * 40 000 sources from disk (a fifth of our first run's samples in `filemap_read`, by `perf`), while
 * rclone, run after ours, found them cached. Both now start with the sources cached, as a
 * workspace an agent has just written is.
 */
function warmTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) warmTree(p);
    else if (e.isFile()) readFileSync(p);
  }
}

let stopRgw: (() => Promise<void>) | undefined;
async function s3Env(): Promise<boolean> {
  if (process.env.WS_S3_ENDPOINT) return true;
  const rgw = (await import(path.join(root, "scripts", "rgw.mjs"))) as {
    rgwInstalled(): boolean;
    startRgw(): Promise<{ endpoint: string; accessKeyId: string; secretAccessKey: string; stop(): Promise<void> }>;
  };
  if (!rgw.rgwInstalled()) {
    console.log("(Ceph RGW not installed: S3 benchmarks skipped)");
    return false;
  }
  const s = await rgw.startRgw();
  process.env.WS_S3_ENDPOINT = s.endpoint;
  process.env.WS_S3_ACCESS_KEY_ID = s.accessKeyId;
  process.env.WS_S3_SECRET_ACCESS_KEY = s.secretAccessKey;
  stopRgw = s.stop;
  return true;
}

async function createBucket(name: string): Promise<void> {
  const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    endpoint: process.env.WS_S3_ENDPOINT,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.WS_S3_ACCESS_KEY_ID ?? "", secretAccessKey: process.env.WS_S3_SECRET_ACCESS_KEY ?? "" },
  });
  await client.send(new CreateBucketCommand({ Bucket: name }));
  client.destroy();
}

async function s3Bench(data: { workspace: string; bytes: number }, parent: string, stateDir: string): Promise<void> {
  if (!(await s3Env())) return;
  const bucket = `bench-${Date.now()}`;
  await createBucket(bucket);
  const ours = await best(() => measure(process.execPath, [childJs, "backup-s3", data.workspace, stateDir, bucket]));
  row("workspace-sync backup → S3 (RGW, loopback)", data.bytes, ours, `${ours.extra.requests as number} HTTP requests`);
  const cli = await best(() => measure(process.execPath, [childJs, "cli-s3", parent, bucket], { BENCH_SIZE_HINT: String(data.bytes + 64 * 1024 * 1024) }));
  row("tar -cz \\| openssl enc → same S3 upload", data.bytes, cli);
}

async function syncBench(benchDir: string, work: string): Promise<void> {
  const n = opt("sync-files", 40000);
  console.log(`\nno-change sync of ${n} files (mirror mode; first run untimed)...`);
  const ws = await ensureManyFiles(path.join(benchDir, `many-${n}`), n);
  const syncRows = ["| no-change sync | files | time | provider / API calls | HTTP requests | transfers |", "|---|---|---|---|---|---|"];
  const sideBySide: string[] = [];
  const local = await measure(process.execPath, [childJs, "sync", ws, path.join(work, "sync-state-local"), "local", path.join(work, "sync-cloud")]);
  syncRows.push(`| local provider | ${n} | ${(local.ms / 1000).toFixed(2)} s | ${JSON.stringify(local.extra.calls)} | - | ${local.extra.transfers as number} |`);
  console.log(syncRows[syncRows.length - 1]);
  if (await s3Env()) {
    const bucket = `bench-sync-${Date.now()}`;
    await createBucket(bucket);
    const s3 = await measure(process.execPath, [childJs, "sync", ws, path.join(work, "sync-state-s3"), "s3", bucket]);
    syncRows.push(`| S3 (RGW, loopback) | ${n} | ${(s3.ms / 1000).toFixed(2)} s | ${JSON.stringify(s3.extra.calls)} | ${s3.extra.httpRequests as number} | ${s3.extra.transfers as number} |`);
    console.log(syncRows[syncRows.length - 1]);
    if (has("rclone")) sideBySide.push(await s3AgainstRclone(ws, n, bucket, path.join(work, "sync-state-s3")));
  }
  const dbx = await measure(process.execPath, [childJs, "sync-dropbox", ws, path.join(work, "sync-state-dropbox")]);
  syncRows.push(
    `| Dropbox (wire fake, loopback): first full scan | ${n} | ${((dbx.extra.firstRunMs as number) / 1000).toFixed(2)} s | ${JSON.stringify(dbx.extra.firstCalls)} | - | ${dbx.extra.firstTransfers as number} |`,
    `| Dropbox (wire fake, loopback): no change | ${n} | ${(dbx.ms / 1000).toFixed(2)} s | ${JSON.stringify(dbx.extra.calls)} | - | ${dbx.extra.transfers as number} |`,
  );
  console.log(syncRows.slice(-2).join("\n"));
  rows.push("", ...syncRows);
  if (sideBySide.length > 0) rows.push("", "| no-change sync, whole process | files | workspace-sync | rclone sync | ratio |", "|---|---|---|---|---|", ...sideBySide);
}

/**
 * No-change sync on S3, whole processes: the bin's `sync` (its state already made by the run
 * before) against `rclone sync` to another folder of the same bucket (its first run untimed).
 * rclone keeps no state: it lists the bucket and reads each object's modification time.
 */
async function s3AgainstRclone(ws: string, n: number, bucket: string, stateDir: string): Promise<string> {
  const env = rcloneEnv({ endpoint: process.env.WS_S3_ENDPOINT, accessKeyId: process.env.WS_S3_ACCESS_KEY_ID, secretAccessKey: process.env.WS_S3_SECRET_ACCESS_KEY });
  const rc = (): Promise<Measured> => measure("rclone", ["sync", "--config", "/dev/null", ws, `${RGW_REMOTE}:${bucket}/rclone`], env);
  console.log(`S3 no change, whole processes: rclone's first run of ${n} files (untimed)...`);
  await rc();
  const ours = await best(() => measure(process.execPath, [childJs, "sync-once", ws, stateDir, "mirror", bucket, "s3"]));
  if (ours.extra.transfers !== 0) throw new Error(`S3 no-change run transferred ${String(ours.extra.transfers)}`);
  const theirs = await best(rc);
  const line = `| S3 (RGW, loopback) | ${n} | ${(ours.ms / 1000).toFixed(2)} s (${ours.rssMiB.toFixed(0)} MiB) | ${(theirs.ms / 1000).toFixed(2)} s (${theirs.rssMiB.toFixed(0)} MiB) | rclone takes ${(theirs.ms / ours.ms).toFixed(2)}x our time |`;
  console.log(line);
  return line;
}

/** One sync run in its own process (wall time and peak RSS of the whole process). */
function syncOnce(ws: string, stateDir: string, mode: string, cloud: string): Promise<Measured> {
  return measure(process.execPath, [childJs, "sync-once", ws, stateDir, mode, cloud]);
}

/**
 * Local mirror against `rclone sync` (local to local) on the same tree, first run and no-change run,
 * whole processes, ours and rclone's taking turns (best of `--runs`); then the larger tree in every
 * mode, first run and no-change run, with peak RSS.
 */
async function syncScaleBench(benchDir: string, work: string): Promise<void> {
  const n = opt("sync-files", 40000);
  const big = opt("sync-scale-files", 100000);
  const out = ["| local sync, whole process | files | workspace-sync | rclone sync | ratio (ours / rclone) |", "|---|---|---|---|---|"];
  const keep = (a: Measured | undefined, m: Measured): Measured => (a === undefined || m.ms < a.ms ? m : a);
  const leftovers: string[] = [];
  /** Mirror's peak RSS by file count (first run, no change), the highest of every run at that count. */
  const peaks = new Map<number, MirrorPeaks>();
  /** The same of `rclone sync`, the reference for how memory grows with the file count. */
  const rclonePeaks = new Map<number, MirrorPeaks>();
  /** A mirror synced at each file count (its cloud and state folders), for the curve's run with one change. */
  const synced = new Map<number, Synced>();
  if (has("rclone")) {
    console.log(`\nsync scale: ${n} files in ${Math.ceil(n / 200)} folders, mirror vs rclone sync (${runs} round(s))...`);
    const ws = await ensureManyFiles(path.join(benchDir, `many-${n}`), n);
    let first: Measured | undefined, again: Measured | undefined, rFirst: Measured | undefined, rAgain: Measured | undefined;
    let rss = 0, rRss = 0;
    // Each round writes into folders of its own, all removed at the end: on ext4, creating files
    // right after removing as many scans past every inode freed in the last seconds (a third of
    // a restore's CPU, profiled), so a round that first removed the last one's 40 000 files
    // measured its own cleanup, and first runs swung 2x for both tools.
    for (let i = 0; i < runs; i++) {
      const cloud = path.join(work, `scale-cloud-${i}`);
      const state = path.join(work, `scale-state-${i}`);
      const rdest = path.join(work, `scale-rclone-${i}`);
      leftovers.push(cloud, state, rdest);
      // Each run starts with no dirty pages (settleDisk): a no-change run right after a first run
      // otherwise shares the two cores with the kernel writing back 40 000 new files, for both
      // tools alike, and measures that writeback more than itself.
      const rc = (): Promise<Measured> => (settleDisk(), measure("rclone", ["sync", "--config", "/dev/null", ws, rdest]));
      const ourPair = async (): Promise<void> => {
        warmTree(ws);
        settleDisk();
        const a = await syncOnce(ws, state, "mirror", cloud);
        settleDisk();
        const b = await syncOnce(ws, state, "mirror", cloud);
        if (b.extra.transfers !== 0) throw new Error(`no-change run transferred ${String(b.extra.transfers)}`);
        first = keep(first, a);
        again = keep(again, b);
        rss = Math.max(rss, a.rssMiB, b.rssMiB);
        notePeaks(peaks, n, a, b);
        if (!synced.has(n)) synced.set(n, { cloud, state });
      };
      const rclonePair = async (): Promise<void> => {
        warmTree(ws);
        const a = await rc();
        const b = await rc();
        rFirst = keep(rFirst, a);
        rAgain = keep(rAgain, b);
        rRss = Math.max(rRss, a.rssMiB, b.rssMiB);
        notePeaks(rclonePeaks, n, a, b);
      };
      await inTurns(i, ourPair, rclonePair);
    }
    const s = (m: Measured): string => `${(m.ms / 1000).toFixed(2)} s`;
    out.push(
      `| mirror, first run | ${n} | ${s(first!)} | ${s(rFirst!)} | ${(first!.ms / rFirst!.ms).toFixed(2)}x |`,
      `| mirror, no change | ${n} | ${s(again!)} | ${s(rAgain!)} | ${(again!.ms / rAgain!.ms).toFixed(2)}x |`,
      `| peak RSS (either run) | ${n} | ${rss.toFixed(0)} MiB | ${rRss.toFixed(0)} MiB | ${(rss / rRss).toFixed(2)}x |`,
    );
    console.log(out.slice(-3).join("\n"));
    if (has("taskset")) {
      // A container limited to one CPU: the walk starts no thread there (util/cores.ts). The
      // synced mirror and rclone's copy from the first round, no change, both pinned to core 0.
      const pinned = synced.get(n)!;
      const rdest = path.join(work, "scale-rclone-0");
      let one: Measured | undefined, rOne: Measured | undefined;
      const ours = async (): Promise<void> => {
        settleDisk();
        const m = await measure("taskset", ["-c", "0", process.execPath, childJs, "sync-once", ws, pinned.state, "mirror", pinned.cloud]);
        if (m.extra.transfers !== 0) throw new Error(`one-core no-change run transferred ${String(m.extra.transfers)}`);
        one = keep(one, m);
      };
      const theirs = async (): Promise<void> => {
        settleDisk();
        rOne = keep(rOne, await measure("taskset", ["-c", "0", "rclone", "sync", "--config", "/dev/null", ws, rdest]));
      };
      for (let i = 0; i < runs; i++) await inTurns(i, ours, theirs);
      out.push(`| mirror, no change, one core (\`taskset -c 0\`; time, peak RSS) | ${n} | ${s(one!)}, ${one!.rssMiB.toFixed(0)} MiB | ${s(rOne!)}, ${rOne!.rssMiB.toFixed(0)} MiB | ${(one!.ms / rOne!.ms).toFixed(2)}x, ${(one!.rssMiB / rOne!.rssMiB).toFixed(2)}x |`);
      console.log(out[out.length - 1]);
    }
  } else console.log("(rclone not installed: the side-by-side rows are skipped)");

  if (big > 0) {
    console.log(`\nsync scale: ${big} files in every mode (first run, then no change)...`);
    const ws = await ensureManyFiles(path.join(benchDir, `many-${big}`), big);
    out.push("", "| local sync, whole process | files | first run | peak RSS | no change | peak RSS |", "|---|---|---|---|---|---|");
    for (const mode of ["mailbox", "mirror", "bisync"]) {
      const cloud = path.join(work, `big-cloud-${mode}`);
      const state = path.join(work, `big-state-${mode}`);
      settleDisk();
      const a = await syncOnce(ws, state, mode, cloud);
      settleDisk();
      const b = await syncOnce(ws, state, mode, cloud);
      if (b.extra.transfers !== 0) throw new Error(`${mode} no-change run transferred ${String(b.extra.transfers)}`);
      if (mode === "mirror") {
        notePeaks(peaks, big, a, b);
        synced.set(big, { cloud, state });
      }
      out.push(`| ${mode} | ${big} | ${(a.ms / 1000).toFixed(1)} s | ${a.rssMiB.toFixed(0)} MiB | ${(b.ms / 1000).toFixed(2)} s | ${b.rssMiB.toFixed(0)} MiB |`);
      console.log(out[out.length - 1]);
      leftovers.push(cloud, state);
    }
  }
  const curve = opt("sync-curve-files", 200000);
  if (curve > 0) out.push("", ...(await memoryCurve(benchDir, work, [n, big, curve].filter((c) => c > 0), peaks, has("rclone") ? rclonePeaks : undefined, synced, leftovers)));
  for (const d of leftovers) await fsp.rm(d, { recursive: true, force: true });
  // The machine's load (1, 5, 15 min) when the rows were taken: shared machines swing the times.
  out.push("", `load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(", ")} (${os.cpus().length} cores)`);
  console.log(out[out.length - 1]);
  rows.push("", ...out);
}

/** Round `i` of two measurements taking turns: `a` first in even rounds, `b` in odd ones, so neither always meets a warmer cache. */
async function inTurns(i: number, a: () => Promise<void>, b: () => Promise<void>): Promise<void> {
  if (i % 2 === 0) {
    await a();
    await b();
  } else {
    await b();
    await a();
  }
}

/** A mirror's peak RSS at one file count: first run and no-change run (and a run with one change, ours only). */
interface MirrorPeaks {
  first: number;
  again: number;
  one?: number;
}

/** A mirror's cloud and state folders, synced. */
interface Synced {
  cloud: string;
  state: string;
}

/**
 * One run of a synced mirror after one cloud file changed (the first file of its first folder,
 * a byte added): it uploads that file again. Returns the run.
 */
async function oneChange(ws: string, s: Synced): Promise<Measured> {
  const root = path.join(s.cloud, "bench");
  const folder = (await fsp.readdir(root)).sort()[0]!;
  const file = path.join(root, folder, (await fsp.readdir(path.join(root, folder))).sort()[0]!);
  await fsp.appendFile(file, "+");
  settleDisk();
  const m = await syncOnce(ws, s.state, "mirror", s.cloud);
  if (m.extra.transfers !== 1) throw new Error(`a run with one change made ${String(m.extra.transfers)} transfers`);
  return m;
}

/** Records a mirror's first run `a` and no-change run `b` at `files`, keeping the highest of each. */
function notePeaks(peaks: Map<number, MirrorPeaks>, files: number, a: Measured, b: Measured): void {
  const p = peaks.get(files);
  peaks.set(files, { first: Math.max(p?.first ?? 0, a.rssMiB), again: Math.max(p?.again ?? 0, b.rssMiB) });
}

/**
 * How a mirror's peak RSS grows with the file count: a first run and a no-change run at each size
 * the bench has not already synced in mirror mode (`peaks`), and what each further file costs
 * between the smallest and the largest (issue 16 asks for memory that grows sub-linearly); beside
 * them `rclone sync`'s (`rclonePeaks`, run where missing), the reference.
 */
async function memoryCurve(benchDir: string, work: string, sizes: number[], peaks: Map<number, MirrorPeaks>, rclonePeaks: Map<number, MirrorPeaks> | undefined, synced: Map<number, Synced>, leftovers: string[]): Promise<string[]> {
  const counts = [...new Set(sizes)].sort((a, b) => a - b);
  console.log(`\nsync memory by file count: mirror at ${counts.join(", ")} files (first run, no change, one cloud file changed)...`);
  const out = rclonePeaks
    ? ["| mirror, peak RSS by file count | files | first run | no change | one file changed | rclone first run | rclone no change |", "|---|---|---|---|---|---|---|"]
    : ["| mirror, peak RSS by file count | files | first run | no change | one file changed |", "|---|---|---|---|---|"];
  const got: ({ files: number; rclone?: MirrorPeaks } & MirrorPeaks)[] = [];
  for (const c of counts) {
    if (!peaks.has(c)) {
      const ws = await ensureManyFiles(path.join(benchDir, `many-${c}`), c);
      const cloud = path.join(work, `curve-cloud-${c}`);
      const state = path.join(work, `curve-state-${c}`);
      leftovers.push(cloud, state);
      warmTree(ws);
      settleDisk();
      const a = await syncOnce(ws, state, "mirror", cloud);
      settleDisk();
      const b = await syncOnce(ws, state, "mirror", cloud);
      if (b.extra.transfers !== 0) throw new Error(`no-change run at ${c} files transferred ${String(b.extra.transfers)}`);
      notePeaks(peaks, c, a, b);
      synced.set(c, { cloud, state });
    }
    const at = synced.get(c);
    if (at !== undefined) peaks.get(c)!.one = (await oneChange(await ensureManyFiles(path.join(benchDir, `many-${c}`), c), at)).rssMiB;
    if (rclonePeaks && !rclonePeaks.has(c)) {
      const ws = await ensureManyFiles(path.join(benchDir, `many-${c}`), c);
      const rdest = path.join(work, `curve-rclone-${c}`);
      leftovers.push(rdest);
      warmTree(ws);
      settleDisk();
      const a = await measure("rclone", ["sync", "--config", "/dev/null", ws, rdest]);
      settleDisk();
      const b = await measure("rclone", ["sync", "--config", "/dev/null", ws, rdest]);
      notePeaks(rclonePeaks, c, a, b);
    }
    const p = peaks.get(c)!;
    const r = rclonePeaks?.get(c);
    got.push({ files: c, ...p, rclone: r });
    out.push(`| | ${c} | ${p.first.toFixed(0)} MiB | ${p.again.toFixed(0)} MiB | ${p.one === undefined ? "-" : `${p.one.toFixed(0)} MiB`} |${r ? ` ${r.first.toFixed(0)} MiB | ${r.again.toFixed(0)} MiB |` : ""}`);
    console.log(out[out.length - 1]);
  }
  if (got.length > 1) {
    const lo = got[0]!, hi = got[got.length - 1]!;
    // (A fall within the noise prints as 0.00, not -0.00.)
    const perFile = (d: number): string => (Math.max(0, (d * 1024) / (hi.files - lo.files)) || 0).toFixed(2);
    const theirs = lo.rclone && hi.rclone ? ` ${perFile(hi.rclone.first - lo.rclone.first)} KiB | ${perFile(hi.rclone.again - lo.rclone.again)} KiB |` : "";
    const one = lo.one !== undefined && hi.one !== undefined ? `${perFile(hi.one - lo.one)} KiB` : "-";
    out.push(`| each further file, ${lo.files} → ${hi.files} | | ${perFile(hi.first - lo.first)} KiB | ${perFile(hi.again - lo.again)} KiB | ${one} |${theirs}`);
    console.log(out[out.length - 1]);
  }
  return out;
}

async function scaleBench(benchDir: string, work: string): Promise<void> {
  const gib = opt("scale-gib", 10);
  const files = opt("scale-files", 100000);
  rows.push("| scale | time | throughput (plain MB/s) | peak RSS | notes |", "|---|---|---|---|---|");
  console.log(`scale: ${gib} GiB of random data (generating on first run)...`);
  const big = await ensureBigData(path.join(benchDir, `big-${gib}`), gib);
  const stateDir = path.join(work, "state");
  await fsp.mkdir(stateDir, { recursive: true });
  const dest = path.join(work, "dest");
  const bk = await measure(process.execPath, [childJs, "backup", big.workspace, stateDir, dest]);
  row(`backup of ${gib} GiB`, big.bytes, bk);
  const target = path.join(work, "restored");
  const rs = await measure(process.execPath, [childJs, "restore-bin", stateDir, dest, target]);
  row(`restore of ${gib} GiB`, big.bytes, rs);
  await fsp.rm(dest, { recursive: true, force: true });
  await fsp.rm(target, { recursive: true, force: true });

  console.log(`scale: ${files} small files...`);
  const ws = await ensureManyFiles(path.join(benchDir, `many-${files}`), files);
  const bkMany = await measure(process.execPath, [childJs, "backup", ws, stateDir, path.join(work, "dest-many")]);
  row(`backup of ${files} files`, files * 10, bkMany, `${(files / (bkMany.ms / 1000)).toFixed(0)} files/s`);
  // What a user runs: the bin's sync, the first run and the no-change run as processes of their own.
  const [binState, binCloud] = [path.join(work, "sync-state-bin"), path.join(work, "sync-cloud-bin")];
  const first = await syncOnce(ws, binState, "mirror", binCloud);
  const again = await syncOnce(ws, binState, "mirror", binCloud);
  if (again.extra.transfers !== 0) throw new Error(`no-change run transferred ${String(again.extra.transfers)}`);
  row(`mirror sync of ${files} files, the bin (first run)`, files * 10, first, `no change: ${(again.ms / 1000).toFixed(2)} s, ${again.rssMiB.toFixed(0)} MiB`);
  await fsp.rm(binCloud, { recursive: true, force: true });
  await fsp.rm(binState, { recursive: true, force: true });
  // What a host embedding the library gets with Node's default heap settings (the bin sets its
  // own, see util/heap-policy.ts): both runs in one process.
  const sync = await measure(process.execPath, [childJs, "sync", ws, path.join(work, "sync-state-many"), "local", path.join(work, "sync-cloud-many")]);
  row(
    `mirror sync of ${files} files, the library in one process (default heap settings)`,
    files * 10,
    sync,
    `first run ${((sync.extra.firstRunMs as number) / 1000).toFixed(1)} s, no-change ${(sync.ms / 1000).toFixed(2)} s`,
  );
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
