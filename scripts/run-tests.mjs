#!/usr/bin/env node
// Runs the compiled test suite with node's built-in runner. When Ceph RGW is installed it starts a
// throwaway single-node S3 server on 127.0.0.1 first (scripts/rgw.mjs) and stops it afterwards; the
// S3 tests read its address from WS_S3_* variables and skip (or fail under CI=true) without it.
//
// Node versions: the suite runs on the Node that runs this script. Under CI=true (what .ci/run sets),
// or with --all-nodes / WS_TEST_ALL_NODES=1, it then also runs on the other supported versions,
// fetched as the npm registry's `node` package (npx -p node@N): the whole suite on Node 20 and 24,
// the plugin, backup and CLI tests on Node 22 (what OpenClaw 2026.1 hosts ran on). One RGW serves all.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const testDir = path.join(root, "build", "test");
const args = process.argv.slice(2);
const only = args.includes("--faults") ? /^faults-/ : undefined;
const filter = args.find((a) => !a.startsWith("--"));
const allNodes = args.includes("--all-nodes") || process.env.WS_TEST_ALL_NODES === "1" || (process.env.CI === "true" && !only && !filter);
/** Other Node versions and what runs on each (`undefined` = the whole suite). */
// `env`: settings for that run only. The restore fuzz (faults-fuzz) replays the same 2 000 damaged
// snapshots on every Node it runs on, and they were half of a suite's time: Node 24 fuzzes 500 of
// its own instead (another seed), so the runs together cover more snapshots in less time.
const OTHER_NODES = [
  { major: 24, files: undefined, env: { WS_FUZZ_ITERATIONS: "500", WS_FUZZ_SEED: "20261205" } },
  { major: 20, files: undefined },
  { major: 22, files: /^(openclaw-|backup-|cli)/ },
];

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      if (name !== "support" && name !== "fixtures") out.push(...findTests(full));
    } else if (name.endsWith(".test.js") && (!only || only.test(name)) && (!filter || name.includes(filter))) {
      out.push(full);
    }
  }
  return out;
}

const files = findTests(testDir);
if (files.length === 0) {
  console.error(`No test files found under ${testDir}: run "npm run build:all" first.`);
  process.exit(1);
}

const env = { ...process.env };
let rgw;
// S3 tests are spread over several files (providers, backup, sync, CLI, faults): one server for all.
if (!env.WS_S3_ENDPOINT) {
  const { rgwInstalled, startRgw } = await import("./rgw.mjs");
  if (rgwInstalled()) {
    process.stderr.write("[tests] starting Ceph RGW (real S3 server) on 127.0.0.1 ...\n");
    rgw = await startRgw();
    env.WS_S3_ENDPOINT = rgw.endpoint;
    env.WS_S3_ACCESS_KEY_ID = rgw.accessKeyId;
    env.WS_S3_SECRET_ACCESS_KEY = rgw.secretAccessKey;
    process.stderr.write(`[tests] RGW ready at ${rgw.endpoint}\n`);
  } else {
    process.stderr.write(
      "[tests] Ceph RGW is not installed: S3 tests will " +
        (env.CI === "true" ? "FAIL (CI=true)" : "be skipped") +
        ". Install it with: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common\n",
    );
  }
}

let stopping = false;
async function stopRgw() {
  if (rgw && !stopping) {
    stopping = true;
    await rgw.stop().catch((err) => process.stderr.write(`[tests] stopping RGW failed: ${err.message}\n`));
  }
}
/** The running suite's process group (its own: see runSuite), stopped with us. */
let suiteGroup;
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    if (suiteGroup !== undefined) {
      try {
        process.kill(-suiteGroup, "SIGTERM");
      } catch {
        // already gone
      }
    }
    await stopRgw();
    process.exit(130);
  });
}

/**
 * Test files run at once. The suite keeps ~1.4 of 2 cores busy with two (many tests wait on
 * timers, retries and servers): three took a Node 20 run from 252 to 224 s, four no further.
 * WS_TEST_CONCURRENCY overrides it.
 */
const CONCURRENCY = process.env.WS_TEST_CONCURRENCY || "3";

/**
 * A run on one Node binary that takes longer than this is killed and fails: a test stuck in a
 * synchronous call (a read blocked on a FIFO, say) can't be stopped by node's own per-test timers,
 * and CI must fail rather than hang. A whole suite takes ~4 minutes. WS_TEST_WATCHDOG_MIN overrides it.
 */
const WATCHDOG_MS = Number(process.env.WS_TEST_WATCHDOG_MIN || "15") * 60_000;

/** Runs the files on one Node binary; resolves to { code, ms }. */
function runSuite(nodeBin, list, extraEnv = {}) {
  const started = Date.now();
  // What the caller set wins over a run's own settings.
  const runEnv = { ...extraEnv, ...env };
  // Its own process group, so that the watchdog stops the test files' processes too.
  const child = spawn(nodeBin, ["--test", `--test-concurrency=${CONCURRENCY}`, ...list], { stdio: "inherit", env: runEnv, cwd: root, detached: true });
  suiteGroup = child.pid;
  const watchdog = setTimeout(() => {
    console.error(`[tests] still running after ${WATCHDOG_MS / 60_000} min: killed (a test is stuck; see the last test files started above)`);
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }, WATCHDOG_MS);
  return new Promise((resolve) =>
    child.on("close", (c, s) => {
      clearTimeout(watchdog);
      suiteGroup = undefined;
      resolve({ code: c ?? (s ? 1 : 0), ms: Date.now() - started });
    }),
  );
}

/** The path of a Node binary of that major version from the npm registry's `node` package, or undefined. */
function fetchNode(major) {
  const r = spawnSync("npx", ["-y", "-p", `node@${major}`, "node", "-p", "process.execPath + ' ' + process.version"], { encoding: "utf8", env, cwd: root });
  const [bin, version] = (r.stdout ?? "").trim().split("\n").pop()?.split(" ") ?? [];
  if (r.status !== 0 || !bin || !version?.startsWith(`v${major}.`)) {
    process.stderr.write(`[tests] could not fetch Node ${major} with npx -p node@${major}: ${(r.stderr ?? "").trim().split("\n").pop() ?? r.error?.message}\n`);
    return undefined;
  }
  return { bin, version };
}

const minutes = (ms) => `${Math.floor(ms / 60000)}m${String(Math.round((ms % 60000) / 1000)).padStart(2, "0")}s`;
const summary = [];
const first = await runSuite(process.execPath, files);
summary.push({ label: `Node ${process.version}: ${files.length} files`, ...first });
if (allNodes) {
  const currentMajor = Number(process.versions.node.split(".")[0]);
  for (const other of OTHER_NODES) {
    if (other.major === currentMajor) continue;
    const node = fetchNode(other.major);
    if (!node) {
      summary.push({ label: `Node ${other.major}: not available`, code: 1, ms: 0 });
      continue;
    }
    const list = other.files ? files.filter((f) => other.files.test(path.basename(f))) : files;
    process.stderr.write(`[tests] Node ${node.version}: ${other.files ? `the plugin, backup and CLI tests (${list.length} files)` : `${filter ? "the selected" : "all"} tests (${list.length} files)`}\n`);
    summary.push({ label: `Node ${node.version}: ${list.length} files`, ...(await runSuite(node.bin, list, other.env)) });
  }
}
await stopRgw();
if (summary.length > 1) {
  for (const r of summary) process.stderr.write(`[tests] ${r.code === 0 ? "pass" : "FAIL"}  ${r.label}  (${minutes(r.ms)})\n`);
}
process.exit(summary.some((r) => r.code !== 0) ? 1 : 0);
