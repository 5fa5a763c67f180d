/**
 * The real rclone (Debian's package) as a test peer. Remotes are configured through environment
 * variables only (`RCLONE_CONFIG_<NAME>_TYPE=s3`, provider Ceph, endpoint, keys): no config file.
 * Without rclone the interop tests are skipped with an install hint, except under CI (`CI=true`),
 * where that is a failure.
 */
import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";
import type { S3TestSettings } from "./s3.js";

const INSTALL_HINT = "rclone interop tests need rclone: apt-get install -y --no-install-recommends rclone";

/** Name of the S3 remote the helpers configure (`rgw:<bucket>/<path>`). */
export const RGW_REMOTE = "rgw";

/** Whether rclone runs here; skips the test (or throws under CI) when it does not. */
export function requireRclone(t: TestContext): boolean {
  const r = spawnSync("rclone", ["version"], { encoding: "utf8" });
  if (r.status === 0) return true;
  if (process.env.CI === "true") throw new Error(`rclone missing under CI. ${INSTALL_HINT}`);
  t.skip(INSTALL_HINT);
  return false;
}

/**
 * Environment entries for an rclone run (on top of this process's): the `rgw` remote for `s3`, and
 * AWS_CA_BUNDLE emptied, since rclone's S3 client refuses a custom CA bundle with its own HTTP
 * transport (the test server speaks plain HTTP on loopback). The benchmarks use it too.
 */
export function rcloneEnv(s3?: { endpoint?: string; accessKeyId?: string; secretAccessKey?: string; region?: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { AWS_CA_BUNDLE: "" };
  if (s3) {
    const p = `RCLONE_CONFIG_${RGW_REMOTE.toUpperCase()}_`;
    env[`${p}TYPE`] = "s3";
    env[`${p}PROVIDER`] = "Ceph";
    env[`${p}ENDPOINT`] = s3.endpoint ?? "";
    env[`${p}ACCESS_KEY_ID`] = s3.accessKeyId ?? "";
    env[`${p}SECRET_ACCESS_KEY`] = s3.secretAccessKey ?? "";
    env[`${p}REGION`] = s3.region ?? "us-east-1";
  }
  return env;
}

/** What one rclone run printed. */
export interface RcloneRun {
  status: number | null;
  stdout: string;
  /** Log lines (stderr) without the "config file not found" notice. */
  log: string;
}

/**
 * Runs rclone with `args`; `s3` configures the `rgw` remote (see {@link rcloneEnv}).
 */
export function rclone(args: string[], s3?: S3TestSettings): RcloneRun {
  const env: NodeJS.ProcessEnv = { ...process.env, ...rcloneEnv(s3) };
  const r = spawnSync("rclone", args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const log = (r.stderr ?? "")
    .split("\n")
    .filter((l) => l && !/Config file .* not found/.test(l))
    .join("\n");
  return { status: r.status, stdout: r.stdout ?? "", log };
}

/** Runs rclone and fails with its log when it exits non-zero. */
export function rcloneOk(args: string[], s3?: S3TestSettings): RcloneRun {
  const r = rclone(args, s3);
  if (r.status !== 0) throw new Error(`rclone ${args.join(" ")} exited ${r.status}:\n${r.log}`);
  return r;
}

/** Log lines where rclone changed something (copied, deleted, set a time) or found a difference. */
export function rcloneChanges(log: string): string[] {
  return log.split("\n").filter((l) => /: (Copied|Updated modification time|Deleted|Moved)|Skipped (copy|delete|update|set modification)|differ|ERROR/.test(l));
}

/** Flags that make rclone upload anything over 1 MiB in 5 MiB parts (multipart, as with big files). */
export const RCLONE_MULTIPART = ["--s3-upload-cutoff", "1M", "--s3-chunk-size", "5M"];

/** One file of {@link makeMigrationTree}: size (random bytes) or text, and an mtime `sec.nnnnnnnnn`. */
interface TreeFile {
  path: string;
  text?: string;
  bytes?: number;
  /** As `touch -d @…` takes it: seconds with up to nine decimals, negative before 1970. */
  mtime: string;
}

/**
 * The files a migrating user has: small text, multipart-sized binaries (one over the 8 MiB
 * download-compare limit), an empty file, non-ASCII names, and nanosecond times before 1970,
 * after 2038 and today. Times are set with coreutils `touch` (Node can only set microseconds).
 */
export const MIGRATION_FILES: readonly TreeFile[] = [
  { path: "notes/today.md", text: "# today\n", mtime: "1700000000.123456789" },
  { path: "data.json", text: '{"a":1}\n', mtime: "1614834367.000000001" },
  { path: "big-a.bin", bytes: 6 * 1024 * 1024 + 123, mtime: "1690000000.987654321" },
  { path: "media/big-b.bin", bytes: 9 * 1024 * 1024 + 7, mtime: "1680000000.5" },
  { path: "old.txt", text: "from 1960\n", mtime: "-315619199.75" },
  { path: "future.txt", text: "from 2100\n", mtime: "4102444800.000000123" },
  { path: "empty.txt", text: "", mtime: "1600000000" },
  { path: "sp ace/grüße.txt", text: "hallo\n", mtime: "1650000000.000123456" },
];

/** Writes {@link MIGRATION_FILES} under `root`. */
export async function makeMigrationTree(root: string): Promise<void> {
  const { randomBytes } = await import("node:crypto");
  const { promises: fsp } = await import("node:fs");
  const path = await import("node:path");
  for (const f of MIGRATION_FILES) {
    const abs = path.join(root, ...f.path.split("/"));
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    await fsp.writeFile(abs, f.bytes !== undefined ? randomBytes(f.bytes) : (f.text ?? ""));
    const r = spawnSync("touch", ["-m", "-d", `@${f.mtime}`, abs], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`touch ${abs}: ${r.stderr}`);
  }
}
